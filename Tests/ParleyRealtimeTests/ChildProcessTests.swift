import Foundation
import ParleyTestSupport
import Testing

/// The launcher the tests start the SMTP sink and the real binary with (`ChildProcess`, posix_spawn).
@Suite struct ChildProcessTests {
    @Test func aChildGetsOnlyItsStandardDescriptorsAndItsOutputAndExitCodeComeBack() throws {
        // Pipes of this process that are not the child's own stay out of it (closefrom in the child).
        let held = Pipe()
        defer { try? held.fileHandleForWriting.close() }
        let listing = try ChildProcess.output(of: "/usr/bin/env", ["sh", "-c", "ls /proc/$$/fd"])
        #expect(Set(listing.split(separator: "\n").map(String.init)) == ["0", "1", "2"])

        #expect(throws: ChildProcessError.self) { try ChildProcess.output(of: "/usr/bin/env", ["sh", "-c", "echo nope >&2; exit 3"]) }
        let failing = try ChildProcess("/usr/bin/env", ["sh", "-c", "exit 3"])
        failing.waitUntilExit()
        #expect(failing.terminationStatus == 3)
        #expect(!failing.isRunning)
    }

    @Test func anInterruptReachesTheChildAndStandardInputEndsWhenClosed() throws {
        // SIGINT is delivered even if this process ignores it: the child starts with default dispositions.
        let sleeper = try ChildProcess("/usr/bin/env", ["sleep", "30"])
        #expect(sleeper.isRunning)
        sleeper.interrupt()
        sleeper.waitUntilExit()
        #expect(sleeper.terminationStatus == 128 + SIGINT)

        let reader = try ChildProcess("/usr/bin/env", ["cat"], standardInput: .pipe, standardOutput: .pipe)
        try reader.standardInput!.write(contentsOf: Data("hello\n".utf8))
        try reader.standardInput!.close()
        let echoed = reader.standardOutput!.readDataToEndOfFile()
        reader.waitUntilExit()
        #expect(String(decoding: echoed, as: UTF8.self) == "hello\n")
        #expect(reader.terminationStatus == 0)
    }
}
