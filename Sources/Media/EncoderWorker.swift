import Foundation

/// A dedicated thread that runs one rendition's encoding steps, one at a time,
/// handed over by the scene's thread. Its stack is sized for x264 (Dispatch
/// worker threads' small stacks are not), and it never touches Swift's
/// cooperative pool.
final class EncoderWorker: @unchecked Sendable {
    // The semaphores order every access to `job` and `failure`: the scene's
    // thread writes `job` before signalling `go` and reads `failure` after `done`.
    private var job: (() throws(MediaError) -> Void)?
    private var failure: MediaError?
    private var stopping = false
    private let go = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init() {
        let thread = Thread { [self] in
            while true {
                go.wait()
                if stopping { break }
                do throws(MediaError) { try job?() } catch { failure = error }
                job = nil
                done.signal()
            }
            done.signal()
        }
        thread.stackSize = 16 << 20
        thread.name = "encoder"
        thread.start()
    }

    /// Starts `work` on the worker's thread.
    func start(_ work: @escaping () throws(MediaError) -> Void) {
        job = work
        failure = nil
        go.signal()
    }

    /// Waits for the started work; returns its error, if any.
    func wait() -> MediaError? {
        done.wait()
        return failure
    }

    /// Ends the thread; idempotent.
    func stop() {
        guard !stopping else { return }
        stopping = true
        go.signal()
        done.wait()
    }
}
