//! How the OpenAPI document describes security. Each secured operation names the minimum role it
//! needs as the scopes of its `bearer` requirement (OpenAPI 3.1 allows role names there); this
//! adds the same requirement for the other ways in — an API key and the OAuth2 flows behind the
//! docs' Authorize button — so handlers state their role once.

use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes,
    SecurityRequirement, SecurityScheme,
};

const TOKEN_URL: &str = "/api/v1/auth/token";

pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        let scopes = || {
            Scopes::from_iter([
                ("viewer", "read"),
                ("analyst", "run tools, handle findings and alerts"),
                ("admin", "manage the organisation"),
                ("superuser", "manage the server's users"),
            ])
        };
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([
                Flow::Password(Password::new(TOKEN_URL, scopes())),
                Flow::ClientCredentials(ClientCredentials::new(TOKEN_URL, scopes())),
            ])),
        );

        for item in openapi.paths.paths.values_mut() {
            for operation in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
            {
                let Some(requirements) = operation.security.as_mut() else { continue };
                let roles: Vec<Vec<String>> = requirements.iter().filter_map(bearer_scopes).collect();
                for scopes in roles {
                    requirements.push(SecurityRequirement::new("oauth2", scopes.clone()));
                    if !scopes.iter().any(|scope| scope == "superuser") {
                        requirements.push(SecurityRequirement::new("api_key", scopes));
                    }
                }
            }
        }
    }
}

/// The scopes of a `bearer` requirement (its fields are private, so they are read through serde).
fn bearer_scopes(requirement: &SecurityRequirement) -> Option<Vec<String>> {
    let value = serde_json::to_value(requirement).ok()?;
    serde_json::from_value(value.get("bearer")?.clone()).ok()
}
