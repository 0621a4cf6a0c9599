@_spi(Measurement) import PyLoader

/// A call of a function from a delegated module, made from the child (a direct call
/// of the shared object), vs the same call in its own loader, vs the alternatives a
/// user would otherwise pick to reach code in another process or interpreter.
enum CallBenchmark {
    static let figure = "call of a function from a delegated module, from the child"

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        let plan = context.plan
        let root = try Loader.root
        let child = try root.child("bench-call")
        defer { try? child.close() }
        for loader in [root, child] {
            try loader.exec(benchLoopSource + "\nimport hostapi\n")
            _ = try loader.benchLoop("_bench_call_ping", iterations: plan.loopIterations)   // warm-up
        }
        guard try child.eval("hostapi.ping is __import__('pyloader').root().import_module('hostapi').ping").isTruthy() else {
            throw BenchProcess.Failure(description: "hostapi.ping was not delegated to the root")
        }
        var fromChild: [Double] = [], inOwn: [Double] = []
        for run in 0..<plan.loopRuns {
            for loader in run % 2 == 0 ? [child, root] : [root, child] {
                let empty = try loader.benchLoop("_bench_empty", iterations: plan.loopIterations)
                let call = try loader.benchLoop("_bench_call_ping", iterations: plan.loopIterations) - empty
                if loader === child { fromChild.append(call) } else { inOwn.append(call) }
            }
        }
        context.progress("calls: multiprocessing.Pipe and _xxsubinterpreters peers")
        let pipe = try context.pythonNumbers(pipeSource, [String(plan.loopIterations / 50), String(plan.loopRuns)])
        let runString = try context.pythonNumbers(runStringSource, [String(plan.loopIterations / 50), String(plan.loopRuns)])
        let value = SampleStats(fromChild)
        return [
            BenchRow(figure: figure, subject: "child calls hostapi.ping(1) (shared object)", value: value,
                     peer: "the same call in its own loader (root)", peerValue: SampleStats(inOwn),
                     goal: .ratioAtMost(1.05),
                     note: "per call, in a Python loop of \(plan.loopIterations) net of an empty loop, \(plan.loopRuns) runs; "
                        + "goal 1.00x read as within 5% (run-to-run noise). The peers run under /usr/bin/python3 -I -S: "
                        + "a Pipe round trip of a small int to a forked echo process; run_string(id, 'ping(1)') into a "
                        + "sub-interpreter that defines ping (the string is compiled on every call, as run_string does)."),
            BenchRow(figure: figure, subject: "child calls hostapi.ping(1) (shared object)", value: value,
                     peer: "multiprocessing.Pipe round trip", peerValue: SampleStats(pipe),
                     goal: .fasterBy(100)),
            BenchRow(figure: figure, subject: "child calls hostapi.ping(1) (shared object)", value: value,
                     peer: "_xxsubinterpreters.run_string(id, 'ping(1)')", peerValue: SampleStats(runString)),
        ]
    }

    /// Prints seconds per round trip, one number per run: `argv[1]` trips a run, `argv[2]` runs.
    static let pipeSource = """
        import multiprocessing, sys, time

        def echo(connection):
            while True:
                item = connection.recv()
                if item is None:
                    return
                connection.send(item)

        if __name__ == "__main__":
            n, runs = int(sys.argv[1]), int(sys.argv[2])
            context = multiprocessing.get_context("fork")
            ours, theirs = context.Pipe()
            worker = context.Process(target=echo, args=(theirs,))
            worker.start()
            for _ in range(200):
                ours.send(1); ours.recv()
            results = []
            for _ in range(runs):
                t = time.perf_counter_ns()
                for _ in range(n):
                    ours.send(1); ours.recv()
                results.append((time.perf_counter_ns() - t) / n / 1e9)
            ours.send(None)
            worker.join()
            print(" ".join(repr(r) for r in results))
        """

    /// Prints seconds per `run_string`, one number per run.
    static let runStringSource = """
        import sys, time
        try:
            import _xxsubinterpreters as interpreters
            target = interpreters.create()
        except ImportError:   # 3.13 renamed it, and made create() isolated by default
            import _interpreters as interpreters
            target = interpreters.create('legacy')

        n, runs = int(sys.argv[1]), int(sys.argv[2])
        interpreters.run_string(target, "def ping(x):\\n    return x\\n")
        for _ in range(200):
            interpreters.run_string(target, "ping(1)")
        results = []
        for _ in range(runs):
            t = time.perf_counter_ns()
            for _ in range(n):
                interpreters.run_string(target, "ping(1)")
            results.append((time.perf_counter_ns() - t) / n / 1e9)
        interpreters.destroy(target)
        print(" ".join(repr(r) for r in results))
        """
}
