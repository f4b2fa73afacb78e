"""A local OpenID Connect provider for the devstack: the authorization code flow with PKCE (S256 only).

It answers at the endpoints Google's and Apple's providers expose (discovery, /authorize, /token, /jwks,
/userinfo) and signs RS256 id_tokens with the claims they carry, so the identity service's one generic OIDC client
is tested against real HTTP, real signatures and real protocol errors. A client registered with `"flavor": "apple"`
answers with Apple's quirks (form_post responses, `email_verified` as a string, the first-login `user` field).
"""
