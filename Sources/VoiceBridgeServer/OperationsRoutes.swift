import Hummingbird
import NIOCore

/// The routes that belong to no carrier: health for load balancers, and metrics.
struct OperationsRoutes: Sendable {
    let liveCalls: LiveCalls
    let metrics: BridgeMetrics

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in health() }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.render(activeCallCount: liveCalls.count, placement: liveCalls.placement)))
            )
        }
    }

    func health() -> Response {
        let draining = liveCalls.isDraining
        let json = #"{"status":"\#(draining ? "draining" : "ok")","activeCalls":\#(liveCalls.count)}"#
        return Response(
            status: draining ? .serviceUnavailable : .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: json))
        )
    }
}
