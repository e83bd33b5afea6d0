import Foundation

/// `POST /v1/session`: sign the browser in with an API key (kept in an HttpOnly cookie).
public struct SignInRequest: Codable, Sendable, Equatable {
    public var key: String

    public init(key: String) { self.key = key }
}

/// `GET /v1/session` and `POST /v1/session`: who the page acts as, and the token its writes carry.
public struct SessionInfo: Codable, Sendable, Equatable {
    public var user: UserInfo
    /// Send as `X-CSRF-Token` with every write the cookie authenticates; `nil` where no key is needed.
    public var csrfToken: String?
    /// Whether this coordinator asks for keys at all (`false` under `--no-auth`).
    public var authRequired: Bool
    /// Highest priority this user may give a video.
    public var maxPriority: Int

    public init(user: UserInfo, csrfToken: String?, authRequired: Bool, maxPriority: Int) {
        self.user = user
        self.csrfToken = csrfToken
        self.authRequired = authRequired
        self.maxPriority = maxPriority
    }
}

/// `POST /v1/scripts/scenes`: the scenes a script defines, before submitting it.
public struct ScriptScenesRequest: Codable, Sendable, Equatable {
    public var script: String

    public init(script: String) { self.script = script }
}

public struct ScriptScene: Codable, Sendable, Equatable {
    public var name: String
    public var line: Int
    public var requiresLaTeX: Bool

    public init(name: String, line: Int, requiresLaTeX: Bool) {
        self.name = name
        self.line = line
        self.requiresLaTeX = requiresLaTeX
    }
}

public struct ScriptScenes: Codable, Sendable, Equatable {
    public var scenes: [ScriptScene]

    public init(scenes: [ScriptScene]) { self.scenes = scenes }
}
