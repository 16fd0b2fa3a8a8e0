import Foundation

/// A crash on purpose, for the tests that prove a poison item is quarantined after three
/// crashes instead of crash-looping the gateway. Inert unless the environment names a step:
/// `MILLWRIGHT_TEST_CRASH=render|cmms|ingest` and `MILLWRIGHT_TEST_CRASH_MATCH=<text>` (the
/// camera id, or text in the submitted payload). Never set it on a plant's gateway.
enum TestCrash {
    static let step = ProcessInfo.processInfo.environment["MILLWRIGHT_TEST_CRASH"]
    static let match = ProcessInfo.processInfo.environment["MILLWRIGHT_TEST_CRASH_MATCH"] ?? ""

    @inline(__always)
    static func here(_ name: String, subject: @autoclosure () -> String) {
        guard let step, step == name, subject().contains(match) else { return }
        FileHandle.standardError.write(Data("millwright: MILLWRIGHT_TEST_CRASH: crashing on purpose at \(name)\n".utf8))
        abort()
    }
}

/// A pause on purpose, for the test that proves a node frozen past its lease (a VM pause, a
/// long GC, SIGSTOP) creates no duplicate and records no stale outcome. Inert unless
/// `MILLWRIGHT_TEST_PAUSE=after-cmms` (and `MILLWRIGHT_TEST_CRASH_MATCH`) is set: the first
/// matching delivery stops the whole process with SIGSTOP after the CMMS answered and before
/// the outcome is recorded; SIGCONT resumes it. Never set it on a plant's gateway.
enum TestPause {
    static let step = ProcessInfo.processInfo.environment["MILLWRIGHT_TEST_PAUSE"]
    nonisolated(unsafe) static var paused = false
    static let lock = NSLock()

    static func here(_ name: String, subject: @autoclosure () -> String) {
        guard let step, step == name, subject().contains(TestCrash.match) else { return }
        guard lock.withLock({ () -> Bool in defer { paused = true }; return !paused }) else { return }
        FileHandle.standardError.write(Data("millwright: MILLWRIGHT_TEST_PAUSE: stopping at \(name)\n".utf8))
        raise(SIGSTOP)
    }
}

