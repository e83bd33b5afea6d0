import Logging
import ServiceLifecycle

/// Runs generation jobs: those a previous run left unfinished first, then each new one, several at once (each
/// spends most of its time waiting on the model or on an agent). At shutdown the jobs stop where they are; the
/// store has every step, and the next start resumes them.
struct GenerationService: Service {
    let generations: Generations

    func run() async {
        await cancelWhenGracefulShutdown {
            await generations.resumeUnfinished()
            await withDiscardingTaskGroup { group in
                for await id in generations.queue {
                    group.addTask { await generations.run(id) }
                }
            }
        }
        await generations.stopIntake()
    }
}
