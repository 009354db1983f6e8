import CgroupFreezer
import CRIUCheckpoint
import FreezectlCLI
import Foundation
import HealthProbes

extension CRIUOptions {
    /// Sets what checkpoint and restore share from these options and the command's others.
    func configure<Options: CRIUOperationOptions>(_ options: inout Options, timeout: Duration, health: HealthCheckOptions?, audit: AuditTrail) {
        options.shellJob = shellJob
        options.tcpEstablished = tcpEstablished
        options.timeout = timeout
        options.criuTimeout = criuTimeout ?? CRIU.defaultTimeout
        options.health = health
        options.audit = audit
    }

    func locate() throws -> CRIU {
        try CRIU.locate(explicit: criu, environment: ProcessInfo.processInfo.environment)
    }
}
