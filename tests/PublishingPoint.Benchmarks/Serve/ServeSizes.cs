using System.Globalization;
using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Serve;

/// <summary>
/// <c>serve --sizes</c>: what one request costs at the sizes players really ask for. Three renditions of one point
/// whose TS segments (2 s, the point's AAC muxed in) are about 750, 150 and 30 KB, and the live media playlist, each
/// next to nginx serving the same bytes as a static file, with the shipped settings (request log at Information).
/// </summary>
internal static class ServeSizes
{
    private static readonly (string Size, int VideoKbps, bool Audio)[] _ladder = [("1280x720", 2800, true), ("640x360", 500, false), ("320x180", 40, false)];
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    /// <summary>The names <c>--objects</c> takes: the renditions' segments in ladder order, then the live playlist.</summary>
    public static readonly string[] Objects = ["750", "150", "30", "playlist"];

    /// <param name="settings">Server settings beyond the shipped ones (--set), for an A/B run.</param>
    /// <param name="only">Which of <see cref="Objects"/> to measure.</param>
    public static async Task<int> RunAsync(int seconds, int rounds, int[] connections, IReadOnlyCollection<string> only, string output, IReadOnlyList<string> settings, CancellationToken cancellationToken)
    {
        var work = Directory.CreateTempSubdirectory("pp-serve-sizes-").FullName;
        try
        {
            Console.WriteLine("encoding 20 s of three renditions (2800, 500 and 40 kbit/s video; 64 kbit/s AAC in the first) ...");
            var bodies = new List<byte[]>();
            for (var i = 0; i < _ladder.Length; i++)
            {
                var (size, kbps, audio) = _ladder[i];
                var file = Path.Combine(work, $"r{i}.ismv");
                string[] audioArgs = audio ? ["-f", "lavfi", "-i", "sine=sample_rate=48000"] : [];
                string[] audioCodec = audio ? ["-c:a", "aac", "-b:a", "64k"] : ["-an"];
                await ProcessRunner.RunCheckedAsync("ffmpeg",
                    ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", $"testsrc2=size={size}:rate=25", .. audioArgs,
                     "-t", "20", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-b:v", $"{kbps}k", "-maxrate", $"{kbps}k", "-bufsize", $"{kbps * 2}k",
                     "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", .. audioCodec, "-movflags", "isml+frag_keyframe", "-f", "ismv", "pipe:1"], file, cancellationToken);
                var body = await File.ReadAllBytesAsync(file, cancellationToken);
                bodies.Add(body[..ServeCommand.FindMfra(body)]); // no end of stream: the point stays live
            }

            // The shipped server process (its runtimeconfig: server GC, thread-pool minimum, ConserveMemory) with the shipped
            // appsettings.json and its log level: LiveServer turns the level down, the last setting given wins.
            await using var server = await LiveServer.StartAsync(["--PublishingPoint:FinalizeGraceSeconds=3600", "--Serilog:MinimumLevel:Default=Information", .. settings], cancellationToken);
            for (var i = 0; i < bodies.Count; i++)
            {
                await server.PostChunkedAsync($"live/sizes.isml/Streams(r{i})", bodies[i], cancellationToken);
            }

            var root = Path.Combine(work, "www");
            Directory.CreateDirectory(root);
            var master = await server.Http.GetStringAsync(new Uri("live/sizes.isml/master.m3u8", UriKind.Relative), cancellationToken);
            var playlists = master.Split('\n').Where(l => l.StartsWith("hls/video-", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
            var objects = new List<(string Label, string Path, byte[] Bytes)>();
            foreach (var playlist in playlists)
            {
                var path = $"live/sizes.isml/{playlist[..^".m3u8".Length]}/3.ts";
                var bytes = await server.Http.GetByteArrayAsync(new Uri(path, UriKind.Relative), cancellationToken);
                objects.Add((string.Create(CultureInfo.InvariantCulture, $"TS segment {bytes.Length / 1024} KB"), path, bytes));
            }

            var smallest = playlists.Last();
            var playlistBytes = await server.Http.GetByteArrayAsync(new Uri($"live/sizes.isml/{smallest}", UriKind.Relative), cancellationToken);
            objects.Add(($"live playlist {playlistBytes.Length} B", $"live/sizes.isml/{smallest}", playlistBytes));

            var names = objects.Select((_, i) => i == objects.Count - 1 ? "video.m3u8" : $"{i}.ts").ToArray();
            for (var i = 0; i < objects.Count; i++)
            {
                await File.WriteAllBytesAsync(Path.Combine(root, names[i]), objects[i].Bytes, cancellationToken);
            }

            var port = ServeCommand.FreePort();
            var barePort = ServeCommand.FreePort();
            using var nginx = ServeCommand.StartNginx(work, root, port);
            using var bare = await BareKestrel.StartAsync(root, barePort, names[^1], cancellationToken);
            try
            {
                var pids = new Pids(server.ProcessId, nginx.Id, bare.Id);
                var targets = objects.Select((o, i) => new Target(o.Label, new Uri(server.BaseUrl, o.Path), new Uri($"http://127.0.0.1:{port}/{names[i]}"),
                    new Uri($"http://127.0.0.1:{barePort}/{names[i]}"), pids)).Where((_, i) => only.Contains(Objects[i])).ToList();
                return await MeasureAsync(targets, seconds, rounds, connections, output, cancellationToken);
            }
            finally
            {
                nginx.Kill(entireProcessTree: true);
                bare.Kill(entireProcessTree: true);
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<int> MeasureAsync(List<Target> targets, int seconds, int rounds, int[] connections, string output, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        using (var check = new HttpClient())
        {
            foreach (var target in targets.Where(t => !t.Label.StartsWith("live playlist", StringComparison.Ordinal)))
            {
                var ourBytes = await check.GetByteArrayAsync(target.Ours, cancellationToken);
                foreach (var (who, url) in new[] { ("nginx", target.Nginx), ("the bare Kestrel app", target.Bare) })
                {
                    var theirBytes = await check.GetByteArrayAsync(url, cancellationToken);
                    if (!ourBytes.AsSpan().SequenceEqual(theirBytes))
                    {
                        throw new InvalidOperationException($"{target.Label}: {who} does not serve the same bytes");
                    }
                }
            }
        }

        Console.WriteLine($"wrk -t2 -d{seconds}s --latency, {rounds} rounds, per object the bare app, then ours and nginx (swapped every other round); server, nginx, the bare Kestrel app and wrk share this machine's {Environment.ProcessorCount} cores");
        foreach (var target in targets)
        {
            foreach (var (who, url, _) in target.Servers)
            {
                await WrkRun.RunAsync(who + target.Label, url, connections[0], 3, cancellationToken); // warm-up: JIT, caches
            }
        }

        var runs = new List<WrkRun>();
        foreach (var c in connections)
        {
            for (var round = 0; round < rounds; round++)
            {
                foreach (var target in targets)
                {
                    foreach (var (who, url, pid) in target.InOrder(round))
                    {
                        runs.Add(await WrkRun.RunAsync(who + target.Label, url, c, seconds, cancellationToken, pid));
                    }
                }
            }
        }

        var medians = runs.GroupBy(r => (r.Target, r.Connections)).Select(ServeCommand.Median).ToList();
        Console.WriteLine();
        Console.WriteLine($"median of {rounds} run(s) per cell, requests/s; bare: a Kestrel app writing the same bytes from memory and nothing else;");
        Console.WriteLine("paired: the median of each round's ours/nginx (the two runs next to each other in time, so the machine's drift between rounds cancels), lowest to highest");
        Console.WriteLine("CPU us/answer: the server's CPU time (nginx: its workers) over its answers, median of the rounds; busy: the machine's two cores, ours' runs / nginx's");
        Console.WriteLine(string.Format(inv, "{0,-22} {1,5} {2,10} {3,11} {4,11} {5,18} {6,11} {7,9} {8,9} {9,9} {10,15} {11,11}", "object", "conns", "ours", "nginx", "ours/nginx", "paired", "bare", "ours/bare", "ours p99", "nginx p99", "CPU us/answer", "busy %"));
        Console.WriteLine(new string('-', 153));
        foreach (var c in connections)
        {
            foreach (var target in targets)
            {
                var (ours, theirs, bare) = (Find("ours: "), Find("nginx: "), Find("bare: "));
                var paired = Paired(runs, c, target.Label);
                Console.WriteLine(string.Format(inv, "{0,-22} {1,5} {2,10:0} {3,11:0} {4,11:0.00} {5,18} {6,11:0} {7,9:0.00} {8,7:0.00}ms {9,7:0.00}ms {10,15} {11,11}{12}", target.Label, c, ours.RequestsPerSecond, theirs.RequestsPerSecond,
                    ours.RequestsPerSecond / theirs.RequestsPerSecond, string.Format(inv, "{0:0.00} ({1:0.00}-{2:0.00})", paired[(paired.Length - 1) / 2], paired[0], paired[^1]),
                    bare.RequestsPerSecond, ours.RequestsPerSecond / bare.RequestsPerSecond, ours.P99Milliseconds, theirs.P99Milliseconds,
                    string.Format(inv, "{0:0.0} / {1:0.0}", MedianOf("ours: ", r => r.ServerMicrosecondsPerAnswer), MedianOf("nginx: ", r => r.ServerMicrosecondsPerAnswer)),
                    string.Format(inv, "{0:0} / {1:0}", MedianOf("ours: ", r => r.MachineBusyPercent), MedianOf("nginx: ", r => r.MachineBusyPercent)),
                    ours.Errors + theirs.Errors + bare.Errors > 0 ? $" ({ours.Errors + theirs.Errors + bare.Errors} errors)" : string.Empty));

                WrkRun Find(string who) => medians.First(r => r.Connections == c && r.Target == who + target.Label);

                double MedianOf(string who, Func<WrkRun, double?> figure)
                {
                    var values = runs.Where(r => r.Connections == c && r.Target == who + target.Label).Select(figure).OfType<double>().Order().ToArray();
                    return values.Length == 0 ? double.NaN : values[(values.Length - 1) / 2];
                }
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { seconds, rounds, medians, runs }, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return 0;
    }

    // Each round's ours/nginx, sorted: the runs were recorded in round order, ours and nginx one after the other.
    private static double[] Paired(List<WrkRun> runs, int connections, string label)
    {
        var ours = runs.Where(r => r.Connections == connections && r.Target == "ours: " + label).ToList();
        var nginx = runs.Where(r => r.Connections == connections && r.Target == "nginx: " + label).ToList();
        return [.. ours.Zip(nginx, (o, n) => o.RequestsPerSecond / n.RequestsPerSecond).Order()];
    }

    private sealed record Pids(int Ours, int Nginx, int Bare);

    private sealed record Target(string Label, Uri Ours, Uri Nginx, Uri Bare, Pids Pids)
    {
        public (string Who, Uri Url, int Pid)[] Servers => [("ours: ", Ours, Pids.Ours), ("nginx: ", Nginx, Pids.Nginx), ("bare: ", Bare, Pids.Bare)];

        // On this machine a run is slowed by the one before it (up to 10 %, most after the bare app's copying of the
        // large segment), so ours and nginx must follow the same runs equally often: the bare app first in every
        // round, then ours and nginx, swapped every other round. (Reversing all three every other round left nginx
        // always in the middle and ours after the previous object's bare run half the time.)
        public (string Who, Uri Url, int Pid)[] InOrder(int round) =>
            round % 2 == 0 ? [Servers[2], Servers[0], Servers[1]] : [Servers[2], Servers[1], Servers[0]];
    }
}
