import FarmProtocol
import Metrics
import Prometheus

/// The coordinator's gauges, through swift-metrics; `/metrics` renders the
/// Prometheus registry they are bootstrapped into.
struct FarmMetrics: Sendable {
    let queueDepth = Gauge(label: "farm_queue_depth")
    let runningTasks = Gauge(label: "farm_running_tasks")
    let agents = Gauge(label: "farm_agents")
    let freeSlots = Gauge(label: "farm_free_slots")
    let activeVideos = Gauge(label: "farm_active_videos")
    let pendingWorkSeconds = Gauge(label: "farm_pending_work_seconds")
    let desiredAgents = Gauge(label: "farm_desired_agents")
    let malformedMessages = Gauge(label: "farm_malformed_messages")
    let refusedReports = Gauge(label: "farm_refused_reports")
    let storeBacklog = Gauge(label: "farm_store_backlog")
    let cacheHits = Counter(label: "farm_render_cache_hits")
    let cacheEvictions = Counter(label: "farm_render_cache_evictions")
    let rangesRendered = Counter(label: "farm_animation_ranges_rendered")
    /// Parts of `video.mp4` agents built in the object store, and parts the coordinator built (no agent could, or one lied).
    let mp4PartsByAgents = Counter(label: "farm_mp4_parts_built", dimensions: [("by", "agent")])
    let mp4PartsByCoordinator = Counter(label: "farm_mp4_parts_built", dimensions: [("by", "coordinator")])

    /// How long the longest-waiting queued task has waited.
    let oldestQueuedSeconds = Gauge(label: "farm_oldest_queued_seconds")
    let attempts = Dictionary(uniqueKeysWithValues: OperationCounters.outcomes.map {
        ($0, Counter(label: "farm_attempts_total", dimensions: [("outcome", $0)]))
    })
    let agentsLost = Counter(label: "farm_agents_lost_total")
    let framesRendered = Dictionary(uniqueKeysWithValues: Quality.allCases.map {
        ($0, Counter(label: "farm_frames_rendered_total", dimensions: [("quality", $0.rawValue)]))
    })
    let renderSeconds = Dictionary(uniqueKeysWithValues: Quality.allCases.map {
        ($0, FloatingPointCounter(label: "farm_render_seconds_total", dimensions: [("quality", $0.rawValue)]))
    })
    /// Object-store requests that failed after their retries for the store's reasons (`S3Client.failedRequests`).
    let objectStoreErrors = Counter(label: "farm_object_store_errors_total")
    /// When this coordinator became the one that serves (its start, or its takeover as a standby).
    let leadershipAcquired = Gauge(label: "farm_leadership_acquired_timestamp_seconds")

    /// Routes swift-metrics into `registry`; call once per process, before any metric is made.
    static func bootstrap(_ registry: PrometheusCollectorRegistry) {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }
}
