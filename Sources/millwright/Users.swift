import Accounts
import ArgumentParser
import Foundation
import MillwrightCore
import Store

/// Named people for the dashboard and for electronic signatures (21 CFR Part 11). Machines
/// (cameras, the MES) keep API keys.
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Named users: add, disable, enable, reset-password, list.",
        discussion: """
        Users live in the store, so every node sharing a PostgreSQL database sees
        them. Passwords are kept only as bcrypt hashes. A password is read from
        MW_NEW_PASSWORD or, if that is unset, from the first line of stdin; it needs
        12 characters and three of lower case, upper case, digits and symbols.
        Three wrong passwords within 15 minutes lock a user until reset-password.

        Examples:
          printf '%s\\n' 'Correct-Horse-42' | millwright users add jdoe --role operator --full-name "Jane Doe" --config millwright.yaml
          MW_NEW_PASSWORD=… millwright users add qa1 --role admin --full-name "Quality Lead" --totp --config millwright.yaml
          millwright users reset-password jdoe --config millwright.yaml
          millwright users list --config millwright.yaml
        """,
        subcommands: [Add.self, Disable.self, Enable.self, ResetPassword.self, List.self])

    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: "The configuration file (its storage is used).")
        var config: String?

        @Option(name: .long, help: "A SQLite database file instead of --config.")
        var db: String?

        func open() async throws -> Store {
            if let config { return try await Runtime.openStore(try Runtime.loadSettings(config)) }
            guard let db else {
                Runtime.printError("users: pass --config millwright.yaml (or --db PATH for a SQLite file)")
                throw ExitCode(2)
            }
            do { return try Store(path: db) } catch {
                Runtime.printError("users: cannot open SQLite database \(db): \(error)")
                throw ExitCode(2)
            }
        }
    }

    /// Who ran the command, for the audit trail.
    static var operatorName: String { "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown") }

    /// A new password from MW_NEW_PASSWORD or stdin, checked against the policy.
    static func readPassword(for user: String) async throws -> String {
        let password: String
        if let p = ProcessInfo.processInfo.environment["MW_NEW_PASSWORD"], !p.isEmpty {
            password = p
        } else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                Runtime.printError("users: no password: set MW_NEW_PASSWORD or give it on stdin")
                throw ExitCode(2)
            }
            password = line
        }
        let problems = AccountRules.passwordProblems(password, user: user)
        guard problems.isEmpty else {
            Runtime.printError("users: the password needs " + problems.joined(separator: "; "))
            throw ExitCode(2)
        }
        return try await Accounts.hashPassword(password)
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user (password from MW_NEW_PASSWORD or stdin).")
        @Argument(help: "The login name (letters, digits, . _ - @).") var name: String
        @Option(name: .long, help: "viewer, operator or admin.") var role: String
        @Option(name: .customLong("full-name"), help: "The printed name that appears on the user's signatures.") var fullName: String
        @Flag(name: .long, help: "Require a one-time code (TOTP) at login; prints the otpauth:// URL to scan.") var totp = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            if let p = AccountRules.nameProblem(name) { Runtime.printError("users add: name '\(name)': \(p)"); throw ExitCode(2) }
            if let p = AccountRules.fullNameProblem(fullName) { Runtime.printError("users add: --full-name: \(p)"); throw ExitCode(2) }
            guard let role = UserRole(rawValue: role) else {
                Runtime.printError("users add: --role must be one of \(UserRole.allCases.map(\.rawValue).joined(separator: ", ")) (API keys hold the ingest role)")
                throw ExitCode(2)
            }
            let hash = try await Users.readPassword(for: name)
            let second = totp ? Accounts.newTOTP(user: name, issuer: "Millwright") : nil
            let s = try await store.open()
            let now = Date()
            do {
                try await s.addUser(UserRecord(name: name, fullName: fullName.trimmingCharacters(in: .whitespaces), role: role, passwordHash: hash,
                                               totpSecret: second?.secret, createdAt: now, passwordSetAt: now), by: Users.operatorName, now: now)
            } catch let e as UserStoreError {
                Runtime.printError("users add: \(e)"); throw ExitCode(1)
            }
            print("added \(name) (\(fullName)), role \(role.rawValue)")
            if let second { print("one-time codes: scan this in an authenticator app, then keep it secret:\n  \(second.url)") }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user: no login, no signature; sessions end now. The record stays.")
        @Argument var name: String
        @OptionGroup var store: StoreOptions
        func run() async throws { try await Users.setDisabled(name, true, store) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user again.")
        @Argument var name: String
        @OptionGroup var store: StoreOptions
        func run() async throws { try await Users.setDisabled(name, false, store) }
    }

    static func setDisabled(_ name: String, _ disabled: Bool, _ options: StoreOptions) async throws {
        let s = try await options.open()
        do { try await s.setUserDisabled(name, disabled: disabled, by: operatorName, now: Date()) } catch let e as UserStoreError {
            Runtime.printError("users: \(e)"); throw ExitCode(1)
        }
        print("\(name) \(disabled ? "disabled" : "enabled")")
    }

    struct ResetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-password",
            abstract: "Set a new password (from MW_NEW_PASSWORD or stdin); lifts a lockout and ends the user's sessions.")
        @Argument var name: String
        @OptionGroup var store: StoreOptions
        func run() async throws {
            let hash = try await Users.readPassword(for: name)
            let s = try await store.open()
            do { try await s.resetPassword(name, hash: hash, by: Users.operatorName, now: Date()) } catch let e as UserStoreError {
                Runtime.printError("users reset-password: \(e)"); throw ExitCode(1)
            }
            print("password of \(name) reset")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users with role and status.")
        @OptionGroup var store: StoreOptions
        func run() async throws {
            let users = try await store.open().users()
            guard !users.isEmpty else { print("no users (add one with: millwright users add NAME --role operator --full-name \"…\")"); return }
            let rows = users.map { u -> [String] in
                let status = u.disabled ? "disabled" : u.lockedAt.map { "locked since \(Timestamps.format($0))" } ?? "active"
                return [u.name, u.fullName, u.role.rawValue, status, u.totpSecret == nil ? "no" : "yes", Timestamps.format(u.passwordSetAt)]
            }
            let header = ["user", "full name", "role", "status", "totp", "password set"]
            let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
            for r in [header] + rows {
                print(r.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
        }
    }
}
