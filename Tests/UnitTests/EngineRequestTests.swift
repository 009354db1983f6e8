import AsyncHTTPClient
import ContainerEngines
import Testing

@Suite("Requests to an engine's unix socket")
struct EngineRequestTests {
    @Test("the socket path is the URL's host, every byte but letters and digits percent-encoded")
    func socketPathIsPercentEncoded() {
        let request = HTTPClientRequest(unixSocket: "/run/a b/dockér.sock", .GET, "/containers/json?all=1", json: nil)
        #expect(request.url == "http+unix://%2Frun%2Fa%20b%2Fdock%C3%A9r%2Esock/containers/json?all=1")
        #expect(request.headers["Host"] == ["localhost"])
    }
}
