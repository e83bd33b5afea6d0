import FarmModel
import HummingbirdAuth

/// Who is asking: the user behind an API key, with the team and role it acts with.
public struct FarmIdentity: Sendable, RoleProviding {
    public var user: UserRecord
    public var team: TeamRecord
    /// The key it authenticated with; `nil` for the local admin of a coordinator without authentication.
    public var keyID: String?

    public var role: Role { user.role }

    /// Every role up to the user's own: a role includes the ones below it.
    public var roles: Set<Role> { Set(Role.allCases.filter { $0 <= user.role }) }

    /// Operators see every team's videos; everyone else only their team's.
    func mayRead(videoOfTeam teamID: String?) -> Bool {
        role >= .operator || (teamID != nil && teamID == team.id)
    }

    /// Operators cancel anything; creators their own videos.
    func mayCancel(videoOfTeam teamID: String?, user userID: String?) -> Bool {
        role >= .operator || (mayRead(videoOfTeam: teamID) && role >= .creator && userID == user.id)
    }

    /// Admins manage every user's keys; everyone else only their own.
    func mayManageKeys(of userID: String) -> Bool {
        role == .admin || userID == user.id
    }
}
