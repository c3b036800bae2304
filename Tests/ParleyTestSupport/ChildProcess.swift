import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A process the tests start (the SMTP sink, `openssl`, the real `parley` binary), launched with `posix_spawn`.
///
/// Not Foundation's `Process`: on Linux its `run()` lists `/proc/self/fd` to close the child's other descriptors and
/// copies a fixed 256 bytes of every directory entry, reading past glibc's buffer when an entry ends next to an
/// unmapped page; full test runs died of SIGSEGV there about once in eight (swiftlang/swift-corelibs-foundation#5472,
/// fixed upstream, not in Swift 6.3.1). Here the child's descriptors above 2 are closed by glibc's
/// `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), and the pipes this type opens are close-on-exec,
/// so a pipe's write end does not leak into another child (which would hold back its end of file).
public final class ChildProcess: Sendable {
    /// Where the child's standard input comes from.
    public enum Input: Sendable {
        case null
        /// A pipe whose write end is `standardInput`: the child reads end of file once it is closed.
        case pipe
    }

    /// Where the child's standard output or error goes.
    public enum Output: Sendable {
        case null
        /// A pipe whose read end is `standardOutput` (or `standardError`).
        case pipe
        /// Appended to a file, created if missing.
        case file(URL)
    }

    public let processIdentifier: pid_t
    /// The write end of the child's standard input, with `.pipe`.
    public let standardInput: FileHandle?
    /// The read end of the child's standard output, with `.pipe`.
    public let standardOutput: FileHandle?
    /// The read end of the child's standard error, with `.pipe`.
    public let standardError: FileHandle?
    /// The raw wait status once the child has been reaped.
    private let waitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` (a path; use `/usr/bin/env` to look a command up in `PATH`) with `arguments`, in
    /// `environment` (this process's when nil).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                standardInput input: Input = .null, standardOutput output: Output = .null, standardError error: Output = .null) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Our ends of the pipes: closed here after the spawn (the child's copies were duplicated onto 0, 1, 2).
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }

        var inputHandle: FileHandle?
        switch input {
        case .null:
            try Self.check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "open /dev/null")
        case .pipe:
            let (read, write) = try Self.makePipe()
            childEnds.append(read)
            inputHandle = FileHandle(fileDescriptor: write, closeOnDealloc: true)
            try Self.check(posix_spawn_file_actions_adddup2(&actions, read, 0), "dup2 stdin")
        }
        var handles: [FileHandle?] = []
        for (fd, output) in [(Int32(1), output), (Int32(2), error)] {
            switch output {
            case .null:
                handles.append(nil)
                try Self.check(posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0), "open /dev/null")
            case .pipe:
                let (read, write) = try Self.makePipe()
                childEnds.append(write)
                handles.append(FileHandle(fileDescriptor: read, closeOnDealloc: true))
                try Self.check(posix_spawn_file_actions_adddup2(&actions, write, fd), "dup2 output")
            case .file(let url):
                handles.append(nil)
                try Self.check(posix_spawn_file_actions_addopen(&actions, fd, url.path, O_WRONLY | O_CREAT | O_APPEND, 0o644),
                               "open \(url.path)")
            }
        }
        if let closeFrom = Self.addCloseFrom {
            try Self.check(closeFrom(&actions, 3), "closefrom")
        }

        // Default dispositions and an empty mask: a signal this process ignores or blocks (SIGPIPE, SIGINT under a
        // service group) must still reach the child, or `interrupt()` would not stop it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let environment = environment ?? ProcessInfo.processInfo.environment
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        try Self.check(posix_spawn(&pid, executable, &actions, &attributes, argv, envp), "posix_spawn \(executable)")
        processIdentifier = pid
        standardInput = inputHandle
        standardOutput = handles[0]
        standardError = handles[1]
    }

    /// Starts the command, waits for it, and returns its standard output; throws when it exits other than with 0
    /// (with its standard error in the message).
    public static func output(of executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let child = try ChildProcess(executable, arguments, environment: environment, standardOutput: .pipe, standardError: .pipe)
        // Both pipes are drained at once, so a child that fills one while we wait on the other cannot stall.
        let errors = Mutex(Data())
        let drained = DispatchSemaphore(value: 0)
        let errorHandle = child.standardError!
        Thread.detachNewThread {
            let data = errorHandle.readDataToEndOfFile()
            errors.withLock { $0 = data }
            drained.signal()
        }
        let data = child.standardOutput!.readDataToEndOfFile()
        drained.wait()
        child.waitUntilExit()
        guard child.terminationStatus == 0 else {
            let message = errors.withLock { String(decoding: $0, as: UTF8.self) }
            throw ChildProcessError("\(executable) \(arguments.joined(separator: " ")) exited \(child.terminationStatus): \(message)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool {
        waitStatus.withLock { status in
            if status != nil { return false }
            var raw: Int32 = 0
            let result = waitpid(processIdentifier, &raw, WNOHANG)
            if result == processIdentifier { status = raw }
            return result == 0
        }
    }

    /// Blocks until the child has exited.
    public func waitUntilExit() {
        while isRunning {
            var raw: Int32 = 0
            let result = waitpid(processIdentifier, &raw, 0)
            if result == processIdentifier {
                waitStatus.withLock { $0 = raw }
                return
            }
            if result == -1, errno != EINTR {
                // Reaped by a concurrent `isRunning`, which stored the status.
                usleep(1_000)
            }
        }
    }

    /// The exit code when the child exited, 128 + the signal's number when a signal ended it, -1 while it runs.
    public var terminationStatus: Int32 {
        guard let raw = waitStatus.withLock({ $0 }) else { return -1 }
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }

    /// SIGTERM.
    public func terminate() { signal(SIGTERM) }
    /// SIGINT, as Ctrl-C would send.
    public func interrupt() { signal(SIGINT) }

    /// Sends `number` unless the child has already been reaped (its pid may belong to someone else by then).
    public func signal(_ number: Int32) {
        guard isRunning else { return }
        kill(processIdentifier, number)
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`; returns once it has exited.
    public func stop(grace: TimeInterval = 2) {
        terminate()
        let deadline = Date().addingTimeInterval(grace)
        while isRunning, Date() < deadline { usleep(10_000) }
        signal(SIGKILL)
        waitUntilExit()
    }

    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ChildProcessError("pipe failed: errno \(errno)") }
        // Swift's Glibc does not declare pipe2; a child spawned by another thread in between still closes them (closefrom).
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    private static func check(_ result: Int32, _ what: String) throws {
        guard result == 0 else { throw ChildProcessError("\(what) failed: error \(result) (\(String(cString: strerror(result))))") }
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np`, looked up at run time: Swift's Glibc module does not
    /// declare it. Without it (an older glibc) only the close-on-exec flags keep descriptors from leaking.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
