import CRIUCheckpoint
import FreezectlCLI

extension Output {
    /// The tree check: JSON `{root, cgroup, processes, strays: [{pid, command, cgroup}], repaired}`, or a table of strays.
    static func tree(_ check: TreeCheck, common: CommonOptions) {
        let (tree, strays, cgroup, repaired) = (check.tree, check.strays, check.target.cgroup.path, check.repaired)
        struct Stray: Encodable { let pid: Int32; let command: String; let cgroup: String? }
        struct Report: Encodable { let root: Int32; let cgroup: String; let processes: Int; let strays: [Stray]; let repaired: Bool }
        let list = strays.map { Stray(pid: $0.pid, command: $0.command, cgroup: $0.cgroup?.string) }
        for stray in check.remaining {
            Output.error("process \(stray.pid) (\(stray.command)) of the tree is outside \(cgroup), in \(stray.cgroup?.string ?? "an invisible cgroup")\n  next step: "
                + (repaired ? "it left again as it was moved in: stop what moves it, then --repair again" : "move it back with --repair (or --repair-tree on checkpoint)"))
        }
        guard !common.quiet else { return }
        switch common.format {
        case .json:
            Output.printJSON(Report(root: tree.root, cgroup: cgroup.string, processes: tree.members.count, strays: list, repaired: repaired && !list.isEmpty))
        case .table:
            if list.isEmpty {
                FileHandleOutput.standardOutput("all \(tree.members.count) processes of the tree under \(tree.root) are in \(cgroup)")
            } else {
                FileHandleOutput.standardOutput(repaired ? "moved into \(cgroup):" : "outside \(cgroup):")
                Output.printTable(header: ["PID", "COMMAND", "CGROUP"], rows: list.map { [String($0.pid), String($0.command.prefix(60)), $0.cgroup ?? "-"] })
            }
        }
    }
}
