import ServiceLifecycle

/// The engine thread as a service of the application: started with it, stopped when it shuts down.
struct SchedulerService: Service {
    let scheduler: GenerationScheduler

    func run() async throws {
        scheduler.start()
        defer { scheduler.stop() }
        try? await gracefulShutdown()
    }
}
