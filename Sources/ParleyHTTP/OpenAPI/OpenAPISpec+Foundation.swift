import ParleyCore

/// The documented routes of the system, user and token controllers.
extension OpenAPIBuilder {
    public mutating func addFoundation() {
        let ok: (Int, String, String?) = (200, "OK", nil)
        add([
            OpenAPIOperation("GET", "/healthz", tag: "system", summary: "Liveness: the process answers.", security: .none,
                             responses: [(200, "Alive", "Status")]),
            OpenAPIOperation("GET", "/readyz", tag: "system", summary: "Readiness: the database answers.", security: .none,
                             responses: [(200, "Ready", "Status")]),
            OpenAPIOperation("GET", "/metrics", tag: "system", summary: "Prometheus metrics in text format.", security: .none,
                             responses: [ok]),
            OpenAPIOperation("GET", "/v1/openapi.json", tag: "system", summary: "This document.", security: .none,
                             responses: [ok]),
            OpenAPIOperation("GET", "/v1/ws", tag: "realtime",
                             summary: "The WebSocket gateway (upgrade with a user token in Authorization or ?token=); protocol in docs/protocol.md. "
                                + "Without an upgrade it answers 400 gateway.upgrade_required.",
                             security: .userToken, query: [("token", "string", "a user token, for clients that cannot set headers")],
                             responses: [(101, "Switching protocols to WebSocket", nil)]),
            OpenAPIOperation("PUT", "/v1/users/{user_id}", tag: "users",
                             summary: "Create or replace a user's profile (absent fields are cleared).", security: .apiKey,
                             request: "UserUpsert", responses: [(200, "Updated", "User"), (201, "Created", "User")]),
            OpenAPIOperation("GET", "/v1/users/{user_id}", tag: "users", summary: "Read a user.", security: .apiKey,
                             responses: [(200, "The user", "User")]),
            OpenAPIOperation("GET", "/v1/users", tag: "users", summary: "List users by id, with a cursor.", security: .apiKey,
                             query: [("limit", "integer", "1 to 200, default 50"), ("cursor", "string", "next_cursor of the previous page")],
                             responses: [(200, "A page of users", "UserPage")]),
            OpenAPIOperation("GET", "/v1/me", tag: "users", summary: "The calling user's own profile.", security: .userToken,
                             responses: [(200, "The user", "User")]),
            OpenAPIOperation("POST", "/v1/users/{user_id}/deactivate", tag: "users",
                             summary: "Deactivate a user: their tokens stop working.", security: .apiKey,
                             responses: [(200, "The user", "User")]),
            OpenAPIOperation("POST", "/v1/users/{user_id}/reactivate", tag: "users",
                             summary: "Reactivate a deactivated user.", security: .apiKey,
                             responses: [(200, "The user", "User")]),
            OpenAPIOperation("POST", "/v1/tokens", tag: "auth", summary: "Mint a user token (HS256 JWT).", security: .apiKey,
                             request: "TokenRequest", responses: [(201, "The token", "Token")]),
            OpenAPIOperation("POST", "/v1/admin/api-keys", tag: "auth", summary: "Create an API key; its secret is shown once.",
                             security: .apiKey, request: "APIKeyCreate", responses: [(201, "The key, with its secret", "APIKey")]),
            OpenAPIOperation("GET", "/v1/admin/api-keys", tag: "auth", summary: "List API keys (without secrets).", security: .apiKey,
                             responses: [(200, "The keys", "APIKeyList")]),
            OpenAPIOperation("DELETE", "/v1/admin/api-keys/{key_id}", tag: "auth", summary: "Revoke an API key.", security: .apiKey,
                             responses: [(204, "Revoked", nil)]),
        ], schemas: [
            "Error": Schema.object([
                "error": Schema.object([
                    "code": Schema.string, "message": Schema.string, "details": Schema.anyObject, "request_id": Schema.string,
                ], required: ["code", "message", "details"]),
            ], required: ["error"]),
            "Status": Schema.object(["status": Schema.string], required: ["status"]),
            "User": Schema.object([
                "id": Schema.string, "name": Schema.string, "avatar_url": Schema.nullableString, "metadata": Schema.anyObject,
                "active": Schema.boolean, "created_at": Schema.timestamp, "updated_at": Schema.timestamp,
                "deactivated_at": Schema.nullableString,
            ], required: ["id", "name", "metadata", "active", "created_at", "updated_at"]),
            "UserUpsert": Schema.object(["name": Schema.string, "avatar_url": Schema.string, "metadata": Schema.anyObject]),
            "UserPage": Schema.object(["items": Schema.array(Schema.ref("User")), "next_cursor": Schema.nullableString],
                                      required: ["items"]),
            "TokenRequest": Schema.object([
                "user_id": Schema.string, "roles": Schema.array(Schema.enumeration(Role.allCases.map(\.rawValue))),
                "ttl_seconds": Schema.integer,
            ], required: ["user_id"]),
            "Token": Schema.object([
                "token": Schema.string, "expires_at": Schema.timestamp, "user_id": Schema.string, "roles": Schema.array(Schema.string),
            ], required: ["token", "expires_at"]),
            "APIKeyCreate": Schema.object(["name": Schema.string, "scope": Schema.enumeration(["server", "admin"])], required: ["scope"]),
            "APIKey": Schema.object([
                "id": Schema.string, "name": Schema.string, "scope": Schema.string, "created_at": Schema.timestamp,
                "revoked_at": Schema.nullableString, "key": Schema.string,
            ], required: ["id", "name", "scope", "created_at"]),
            "APIKeyList": Schema.object(["items": Schema.array(Schema.ref("APIKey"))], required: ["items"]),
        ])
    }
}
