using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Serve;

/// <summary>
/// Serving throughput with wrk at 64 and 512 connections: our HLS TS segments and live media playlists next to
/// the same segment bytes served as a static file by nginx on the same machine, in the same run.
/// </summary>
internal sealed class ServeCommand : IBenchmarkCommand
{
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    public string Name => "serve";

    public string Description => "wrk against our TS segments and live playlists, and nginx serving the same bytes (needs: apt-get install wrk nginx)";

    public IReadOnlyList<string> Options =>
    [
        "--seconds N        wrk duration per run (default 5)",
        "--rounds N         runs per target, alternating targets; medians are reported (default 3)",
        "--connections L    comma-separated connection counts (default 64,512)",
        "--output FILE      JSON results (default benchmark-results/serve.json)",
        "--sizes            TS segments of about 750, 150 and 30 KB and the live playlist, each against nginx,",
        "                   with the shipped log level (connections default 64,256)",
        "--objects L        with --sizes, only these of 750,150,30,playlist (default all four)",
        LiveSettings.SetOption + " (with --sizes)",
    ];

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var seconds = arguments.Int("seconds", 5, 1, 600);
        var rounds = arguments.Int("rounds", 3, 1, 50);
        var sizes = arguments.Has("sizes");
        var connections = (arguments.String("connections") ?? (sizes ? "64,256" : "64,512")).Split(',').Select(c => int.Parse(c, inv)).ToArray();
        var output = arguments.String("output") ?? Path.Combine("benchmark-results", sizes ? "serve-sizes.json" : "serve.json");
        foreach (var tool in new[] { "/usr/bin/wrk", "/usr/sbin/nginx", "/usr/bin/ffmpeg" })
        {
            if (!File.Exists(tool))
            {
                await Console.Error.WriteLineAsync($"{tool} is missing: apt-get install -y wrk nginx ffmpeg");
                return 1;
            }
        }

        if (sizes)
        {
            var objects = (arguments.String("objects") ?? "750,150,30,playlist").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var unknown = objects.Except(ServeSizes.Objects).ToList();
            if (objects.Length == 0 || unknown.Count > 0)
            {
                await Console.Error.WriteLineAsync($"--objects takes a list of {string.Join(',', ServeSizes.Objects)}");
                return 1;
            }

            return await ServeSizes.RunAsync(seconds, rounds, connections, objects, output, LiveSettings.Server(arguments), cancellationToken);
        }

        var work = Directory.CreateTempSubdirectory("pp-serve-").FullName;
        Console.WriteLine("encoding 20 s of 1280x720 at 3000 kbit/s with AAC ...");
        var ingest = Path.Combine(work, "ingest.ismv");
        await ProcessRunner.RunCheckedAsync("ffmpeg",
            ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
             "-t", "20", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "3000k", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
             "-c:a", "aac", "-b:a", "128k", "-movflags", "isml+frag_keyframe", "-f", "ismv", "pipe:1"], ingest, cancellationToken);
        var body = await File.ReadAllBytesAsync(ingest, cancellationToken);
        body = body[..FindMfra(body)]; // no end of stream: the point stays live, its playlists are live ones

        // The shipped server process (its own runtimeconfig), as an operator runs it.
        await using var server = await LiveServer.StartAsync(["--PublishingPoint:FinalizeGraceSeconds=3600"], cancellationToken);
        await server.PostChunkedAsync("live/bench.isml/Streams(a)", body, cancellationToken);
        // The same server with DirectSend off: Kestrel copies each body into its output buffers, as before.
        await using var copying = await LiveServer.StartAsync(["--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:DirectSend=false"], cancellationToken);
        await copying.PostChunkedAsync("live/bench.isml/Streams(a)", body, cancellationToken);
        var copyingUrl = new Uri(copying.BaseUrl, "live/bench.isml/hls/video-3000000/3.ts");
        var segmentUrl = new Uri(server.BaseUrl, "live/bench.isml/hls/video-3000000/3.ts");
        var playlistUrl = new Uri(server.BaseUrl, "live/bench.isml/hls/video-3000000.m3u8");
        var segment = await server.Http.GetByteArrayAsync(segmentUrl, cancellationToken);
        var root = Path.Combine(work, "www");
        Directory.CreateDirectory(root);
        await File.WriteAllBytesAsync(Path.Combine(root, "3.ts"), segment, cancellationToken);
        await File.WriteAllBytesAsync(Path.Combine(root, "video.m3u8"), await server.Http.GetByteArrayAsync(playlistUrl, cancellationToken), cancellationToken);

        var port = FreePort();
        using var nginx = StartNginx(work, root, port);
        try
        {
            var nginxUrl = new Uri($"http://127.0.0.1:{port}/3.ts");
            using (var check = new HttpClient())
            {
                var same = await check.GetByteArrayAsync(nginxUrl, cancellationToken);
                if (!same.AsSpan().SequenceEqual(segment))
                {
                    throw new InvalidOperationException("nginx does not serve the same bytes");
                }
            }

            if (!(await copying.Http.GetByteArrayAsync(copyingUrl, cancellationToken)).AsSpan().SequenceEqual(segment))
            {
                throw new InvalidOperationException("the copying server does not serve the same bytes");
            }

            Console.WriteLine($"segment {segment.Length / 1024.0:0} KB; wrk -t2 -d{seconds}s --latency, {rounds} rounds; server and wrk share this machine's {Environment.ProcessorCount} cores");
            (string Target, Uri Url)[] targets =
            [
                ("ours: TS segment", segmentUrl),
                ("nginx: same segment", nginxUrl),
                ("ours, copying: segment", copyingUrl),
                ("ours: live playlist", playlistUrl),
                ("nginx: same playlist", new Uri($"http://127.0.0.1:{port}/video.m3u8")),
            ];
            // A warm-up run per target, not recorded: the JIT settles (a real origin runs for days), caches fill.
            foreach (var (target, url) in targets)
            {
                await WrkRun.RunAsync(target, url, connections[0], 3, cancellationToken);
            }

            var runs = new List<WrkRun>();
            foreach (var c in connections)
            {
                for (var round = 0; round < rounds; round++)
                {
                    // Reversed every other round, so no target always runs first (see ServeSizes).
                    foreach (var (target, url) in round % 2 == 0 ? targets : targets.AsEnumerable().Reverse())
                    {
                        runs.Add(await WrkRun.RunAsync(target, url, c, seconds, cancellationToken));
                    }
                }
            }

            var medians = runs.GroupBy(r => (r.Target, r.Connections)).Select(Median).ToList();
            Print(medians, connections, rounds);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { segmentBytes = segment.Length, seconds, rounds, medians, runs }, _json), cancellationToken);
            Console.WriteLine($"saved {Path.GetFullPath(output)}");
            return 0;
        }
        finally
        {
            nginx.Kill(entireProcessTree: true);
            Directory.Delete(work, recursive: true);
        }
    }

    // The run with the median requests/s of a target, so its MB/s and p99 belong to the same run.
    internal static WrkRun Median(IEnumerable<WrkRun> runs)
    {
        var sorted = runs.OrderBy(r => r.RequestsPerSecond).ToList();
        return sorted[(sorted.Count - 1) / 2];
    }

    private static void Print(List<WrkRun> runs, int[] connections, int rounds)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine($"median of {rounds} run(s) per row");
        Console.WriteLine(string.Format(inv, "{0,-24} {1,6} {2,12} {3,10} {4,10} {5,8}", "target", "conns", "requests/s", "MB/s", "p99 ms", "errors"));
        Console.WriteLine(new string('-', 76));
        foreach (var r in runs)
        {
            Console.WriteLine(string.Format(inv, "{0,-24} {1,6} {2,12:0} {3,10:0.0} {4,10:0.00} {5,8}", r.Target, r.Connections, r.RequestsPerSecond, r.MegabytesPerSecond, r.P99Milliseconds, r.Errors));
        }

        Console.WriteLine(new string('-', 76));
        foreach (var c in connections)
        {
            var ours = runs.First(r => r.Connections == c && r.Target.StartsWith("ours: TS", StringComparison.Ordinal));
            var theirs = runs.First(r => r.Connections == c && r.Target.StartsWith("nginx: same segment", StringComparison.Ordinal));
            var copying = runs.First(r => r.Connections == c && r.Target.StartsWith("ours, copying", StringComparison.Ordinal));
            Console.WriteLine(string.Format(inv, "segments at {0} connections: ours/nginx = {1:0.00} (requests/s), {2:0.00} (MB/s); with DirectSend off {3:0.00}", c,
                ours.RequestsPerSecond / theirs.RequestsPerSecond, ours.MegabytesPerSecond / theirs.MegabytesPerSecond, copying.RequestsPerSecond / theirs.RequestsPerSecond));
            var ourList = runs.First(r => r.Connections == c && r.Target.StartsWith("ours: live", StringComparison.Ordinal));
            var theirList = runs.First(r => r.Connections == c && r.Target.StartsWith("nginx: same playlist", StringComparison.Ordinal));
            Console.WriteLine(string.Format(inv, "playlists at {0} connections: ours (live, rendered) / nginx (static file) = {1:0.00} (requests/s)", c,
                ourList.RequestsPerSecond / theirList.RequestsPerSecond));
        }
    }

    internal static int FindMfra(byte[] body)
    {
        var at = 0;
        while (at + 8 <= body.Length)
        {
            var size = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(at));
            if (body.AsSpan(at + 4, 4).SequenceEqual("mfra"u8) || size < 8)
            {
                return at;
            }

            at += size;
        }

        return body.Length;
    }

    internal static Process StartNginx(string work, string root, int port)
    {
        var conf = Path.Combine(work, "nginx.conf");
        File.WriteAllText(conf, $$"""
            daemon off;
            user root;
            worker_processes auto;
            pid {{work}}/nginx.pid;
            error_log {{work}}/nginx-error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                sendfile on;
                tcp_nopush on;
                keepalive_requests 100000;
                open_file_cache max=100;
                types { video/mp2t ts; application/vnd.apple.mpegurl m3u8; }
                client_body_temp_path {{work}}/body;
                proxy_temp_path {{work}}/proxy;
                fastcgi_temp_path {{work}}/fastcgi;
                uwsgi_temp_path {{work}}/uwsgi;
                scgi_temp_path {{work}}/scgi;
                server { listen 127.0.0.1:{{port}}; root {{root}}; }
            }
            """);
        var info = new ProcessStartInfo("/usr/sbin/nginx") { UseShellExecute = false, RedirectStandardError = true };
        info.ArgumentList.Add("-p");
        info.ArgumentList.Add(work);
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(conf);
        var process = Process.Start(info)!;
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, port);
                return process;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }

        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException("nginx did not start");
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
