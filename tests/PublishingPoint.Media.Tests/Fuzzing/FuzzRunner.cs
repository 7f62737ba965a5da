using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace PublishingPoint.Media.Tests.Fuzzing;

/// <summary>
/// The seeded mutation loop. Case i of seed s uses <c>new Random(s * 1_000_003 + i)</c> for everything (which seed
/// input, which mutations), so "seed s, iteration i" rebuilds the same mutant. A case that throws anything but a
/// clean refusal is a crash: the loop carries on, then shrinks the first input of each distinct crash (same
/// exception type at the same place) and fails with every one. The loop runs on its own thread under a watchdog:
/// a case that takes longer than the per-case limit fails the test as a hang, naming the case.
/// </summary>
internal static class FuzzRunner
{
    /// <summary>PP_FUZZ_ITERATIONS overrides the CI count (e.g. 1000000 for a long run).</summary>
    public static int Iterations(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("PP_FUZZ_ITERATIONS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : ciDefault;

    public static void Run(string name, SeedKind kind, int seed, int iterations, IReadOnlyList<byte[]> inputs, Action<byte[]> target, TimeSpan? perCase = null)
    {
        var limit = perCase ?? TimeSpan.FromSeconds(5);
        var crashes = new Dictionary<string, Crash>();
        var current = new CaseState();
        Exception? runnerFailure = null;
        var worker = new Thread(
            () =>
        {
            try
            {
                for (var i = 0; i < iterations; i++)
                {
                    var random = new Random(unchecked((seed * 1_000_003) + i));
                    var input = inputs[random.Next(inputs.Count)];
                    var mutator = new Mutator(random);
                    var mutant = mutator.Mutate(input, kind);
                    current.Start(i, mutator.Applied);
                    try
                    {
                        target(mutant);
                    }
                    catch (Exception e) when (!ParserDriver.IsCleanRefusal(e))
                    {
                        var signature = Signature(e);
                        if (!crashes.ContainsKey(signature))
                        {
                            crashes[signature] = new Crash(i, [.. mutator.Applied], e, mutant);
                        }
                    }

                    current.Finish();
                }
            }
            catch (Exception e)
            {
                runnerFailure = e;
            }
        },
            16 * 1024 * 1024)
        {
            IsBackground = true, // a hung case must not keep the test host alive
            Name = "fuzz " + name,
        };
        worker.Start();
        while (!worker.Join(50))
        {
            if (current.Running is { } running && running.Elapsed > limit)
            {
                Assert.Fail($"{name}: hang: seed {seed}, iteration {running.Iteration} ran over {limit.TotalSeconds} s; mutations: {string.Join("; ", running.Mutations)}");
            }
        }

        if (runnerFailure is not null)
        {
            throw new InvalidOperationException($"{name}: the fuzz loop itself failed", runnerFailure);
        }

        if (crashes.Count == 0)
        {
            return;
        }

        var report = new StringBuilder();
        report.Append(CultureInfo.InvariantCulture, $"{name}: {crashes.Count} distinct crash(es) in {iterations} cases of seed {seed}:").AppendLine();
        foreach (var (signature, crash) in crashes)
        {
            var small = Minimize(crash.Input, signature, target);
            var file = Path.Combine(Path.GetTempPath(), $"pp-fuzz-{name}-{seed}-{crash.Iteration}.bin");
            File.WriteAllBytes(file, small);
            report.AppendLine(CultureInfo.InvariantCulture, $"--- seed {seed}, iteration {crash.Iteration}: {signature}");
            report.AppendLine(CultureInfo.InvariantCulture, $"mutations: {string.Join("; ", crash.Mutations)}");
            report.AppendLine(CultureInfo.InvariantCulture, $"minimized to {small.Length} bytes ({file}): {(small.Length <= 2048 ? Convert.ToHexString(small) : "(see file)")}");
            report.AppendLine(crash.Exception.ToString());
        }

        Assert.Fail(report.ToString());
    }

    /// <summary>Exception type and the first frame in the code under test.</summary>
    public static string Signature(Exception e)
    {
        var frames = new StackTrace(e).GetFrames();
        var frame = frames.FirstOrDefault(f => f.GetMethod()?.DeclaringType?.Namespace?.StartsWith("PublishingPoint.Media", StringComparison.Ordinal) == true
            && f.GetMethod()?.DeclaringType?.Namespace?.StartsWith("PublishingPoint.Media.Tests", StringComparison.Ordinal) != true);
        var method = frame?.GetMethod();
        return $"{e.GetType().Name} in {method?.DeclaringType?.Name}.{method?.Name}";
    }

    /// <summary>Drops chunks (halves, quarters, ... single bytes) while the same crash still happens; bounded.</summary>
    public static byte[] Minimize(byte[] input, string signature, Action<byte[]> target)
    {
        var budget = 4000;
        bool StillCrashes(byte[] candidate)
        {
            budget--;
            try
            {
                target(candidate);
                return false;
            }
            catch (Exception e)
            {
                return !ParserDriver.IsCleanRefusal(e) && Signature(e) == signature;
            }
        }

        // Whole top-level boxes first (a seed is mostly moof+mdat pairs), last to first, then ever smaller byte runs.
        var current = input;
        var boxes = TopLevelBoxes(current);
        for (var i = boxes.Count - 1; i >= 0 && budget > 0; i--)
        {
            var (at, length) = boxes[i];
            if (at + length <= current.Length)
            {
                byte[] candidate = [.. current.AsSpan(0, at), .. current.AsSpan(at + length)];
                if (StillCrashes(candidate))
                {
                    current = candidate;
                }
            }
        }

        for (var chunk = Math.Max(1, current.Length / 2); chunk >= 1 && budget > 0; chunk /= 2)
        {
            var progress = true;
            while (progress && budget > 0)
            {
                progress = false;
                for (var at = 0; at + chunk <= current.Length && budget > 0;)
                {
                    byte[] candidate = [.. current.AsSpan(0, at), .. current.AsSpan(at + chunk)];
                    if (StillCrashes(candidate))
                    {
                        current = candidate;
                        progress = true;
                    }
                    else
                    {
                        at += chunk;
                    }
                }
            }
        }

        return current;
    }

    private static List<(int At, int Length)> TopLevelBoxes(byte[] data)
    {
        var boxes = new List<(int, int)>();
        var at = 0;
        while (at + 8 <= data.Length)
        {
            var size = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
            if (size < 8 || size > data.Length - at)
            {
                break;
            }

            boxes.Add((at, (int)size));
            at += (int)size;
        }

        return boxes;
    }

    private sealed record Crash(int Iteration, List<string> Mutations, Exception Exception, byte[] Input);

    private sealed record RunningCase(int Iteration, List<string> Mutations, Stopwatch Clock)
    {
        public TimeSpan Elapsed => Clock.Elapsed;
    }

    private sealed class CaseState
    {
        private volatile RunningCase? _running;

        public RunningCase? Running => _running;

        public void Start(int iteration, List<string> mutations) => _running = new RunningCase(iteration, mutations, Stopwatch.StartNew());

        public void Finish() => _running = null;
    }
}
