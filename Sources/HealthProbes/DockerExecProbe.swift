import CgroupFreezer
import FreezerOperations
import ContainerEngines
import ContainerRuntimes
import Foundation
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

extension DockerEngine {
    private struct ExecCreate: Encodable {
        var Cmd: [String]
        var Env: [String]
        var AttachStdout = false
        var AttachStderr = false
    }
    private struct ExecCreated: Decodable { var Id: String }
    private struct ExecInspection: Decodable {
        var Running: Bool
        var ExitCode: Int?
        var Pid: Int32?
    }

    /// A health probe as `docker exec` runs it (`POST /containers/{id}/exec`, then `start`, then
    /// the exit code from `GET /exec/{id}/json`): Docker applies the container's user,
    /// capabilities, no_new_privs, seccomp and LSM profile and its cgroup. The exec is started
    /// detached and its exit code polled; at the timeout its process is killed by the PID Docker
    /// reports (Docker has no API to kill an exec). The outcome names the exit code only.
    func execProbe(_ id: String, command: String, environment: [String: String], timeout: Duration) async -> ProbeOutcome {
        let reference = "docker:\(id.prefix(12))"
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var execID: String?
        var pid: Int32?
        do {
            let body = try JSONEncoder().encode(ExecCreate(Cmd: ["/bin/sh", "-c", command],
                                                           Env: environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }))
            let created = try JSONDecoder().decode(ExecCreated.self, from: try await request(.POST, "/containers/\(id)/exec", reference: reference,
                                                                                           timeout: timeout, body: body))
            execID = created.Id
            _ = try await request(.POST, "/exec/\(created.Id)/start", reference: reference, timeout: timeout,
                                  body: Data(#"{"Detach":true,"Tty":false}"#.utf8))
            var pause = Duration.milliseconds(5)
            while true {
                let inspection = try JSONDecoder().decode(ExecInspection.self, from: try await request(.GET, "/exec/\(created.Id)/json", reference: reference, timeout: timeout))
                pid = inspection.Pid.flatMap { $0 > 0 ? $0 : nil } ?? pid
                if !inspection.Running, let code = inspection.ExitCode {
                    return ProbeOutcome(healthy: code == 0, output: code == 0 ? "docker exec: exit 0" : "docker exec: exit \(code)")
                }
                guard ContinuousClock.now < deadline else {
                    if let pid { kill(pid, SIGKILL) }
                    return ProbeOutcome(healthy: false, output: "timed out after \(timeout.shortDescription)")
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(100))
            }
        } catch {
            // Cancelled or failed: the exec's process must not outlive the call.
            // Best effort on the way out: the exec may be gone already, or dockerd down.
            if pid == nil, let execID {
                do {
                    let data = try await request(.GET, "/exec/\(execID)/json", reference: reference, timeout: .seconds(2))
                    pid = try JSONDecoder().decode(ExecInspection.self, from: data).Pid
                } catch {
                    pid = nil
                }
            }
            if let pid, pid > 0 { kill(pid, SIGKILL) }
            return ProbeOutcome(healthy: false, output: HealthProbe.trimmed("docker exec failed: \((error as? any FreezectlError)?.message ?? "\(error)")"))
        }
    }
}
