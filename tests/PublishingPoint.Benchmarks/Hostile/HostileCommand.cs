using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Hostile;

/// <summary>
/// What hostile clients leave behind: the server (a child process, shipped settings plus an ingest secret) takes N
/// requests of each hostile kind, and after each kind its RSS and open file descriptors are read from /proc. A
/// server that holds its bounds shows flat columns; the statuses show each kind was refused the way it should be.
/// </summary>
internal sealed class HostileCommand : IBenchmarkCommand
{
    private const string Secret = "hostile-benchmark-secret";
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    public string Name => "hostile";

    public string Description => "RSS and open files of the server after N hostile requests of each kind (bounded resources)";

    public IReadOnlyList<string> Options =>
    [
        "--requests N      requests of each kind (default 10000)",
        "--parallel N      clients at once (default 32)",
        "--only TEXT       run only the kinds whose name contains TEXT",
        "--rounds N        run the kinds N times over (RSS after each round shows whether anything grows; default 1)",
        LiveSettings.SetOption,
        "--output FILE     JSON results (default benchmark-results/hostile.json)",
    ];

    private sealed record Row(string Kind, int Requests, double Seconds, string Statuses, double RssMb, int OpenFiles, int ArchiveFiles, double KernelTcpMb)
    {
        /// <summary>Bytes waiting in the server's own sockets' send queues (sent and not acknowledged, or not sent yet).</summary>
        public double ServerSendQueuesMb { get; init; }
    }

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var requests = arguments.Int("requests", 10_000, 10, 1_000_000);
        var rounds = arguments.Int("rounds", 1, 1, 100);
        var parallel = arguments.Int("parallel", 32, 1, 1024);
        var output = arguments.String("output") ?? Path.Combine("benchmark-results", "hostile.json");
        var (headerA, fragmentsA) = Split(await CaptureAsync(300, cancellationToken));
        var (headerB, fragmentsB) = Split(await CaptureAsync(200, cancellationToken));
        // The shipped per-address connection limit (the benchmarks' server turns it off): every request here comes from 127.0.0.1.
        await using var server = await LiveServer.StartAsync([$"--PublishingPoint:IngestSecret={Secret}", "--PublishingPoint:MaxConnectionsPerAddress=1000", .. LiveSettings.Server(arguments)], cancellationToken);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = parallel }) { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        var token = $"?token={Secret}";
        var held = new System.Collections.Concurrent.ConcurrentBag<Socket>();
        using (var content = new ByteArrayContent([.. headerA, .. fragmentsA.SelectMany(f => f)]))
        {
            (await http.PostAsync($"live/good.isml/Streams(a){token}", content, cancellationToken)).EnsureSuccessStatusCode();
        }

        // A point with large fragments (about 1 MB of video each) for players that stop reading.
        var big = await CaptureAsync(4000, cancellationToken, size: "640x360", seconds: 20, noise: true);
        using (var content = new ByteArrayContent(big))
        {
            (await http.PostAsync($"live/big.isml/Streams(a){token}", content, cancellationToken)).EnsureSuccessStatusCode();
        }

        var bigFragments = await FragmentUrlsAsync(http, "live/big.isml", cancellationToken);
        Console.WriteLine($"big point: {bigFragments.Count} video fragments, the first {(await http.GetByteArrayAsync(bigFragments[0], cancellationToken)).Length / 1024} KB");
        var segment = "live/good.isml/hls/video-300000/0.ts";
        (await http.GetAsync(segment, cancellationToken)).EnsureSuccessStatusCode();
        var rows = new List<Row> { Measure(server, "(before)", 0, 0, string.Empty) };
        Console.WriteLine($"hostile: {requests} requests of each kind, {parallel} at once, server pid {server.ProcessId}");
        Print(rows[0]);

        var kinds = new (string Name, Func<int, Random, Task<int>> Request)[]
        {
            ("playlist PUT without the secret", async (_, _) => await SendAsync(http, HttpMethod.Put, "live/good.isml/evil.m3u8", "#EXTM3U\n#EXT-X-ENDLIST\n"u8.ToArray(), cancellationToken)),
            ("alternating moov (4 per POST)", async (i, r) => await SendAsync(http, HttpMethod.Post, $"live/flip{i % 20}.isml/Streams(s{i % 5}){token}",
                [.. headerA, .. fragmentsA[r.Next(fragmentsA.Count)], .. headerB, .. fragmentsB[r.Next(fragmentsB.Count)], .. headerA, .. fragmentsA[0], .. headerB, .. fragmentsB[0]], cancellationToken)),
            ("fragment stamped far ahead", async (i, r) => await SendAsync(http, HttpMethod.Post, $"live/ahead{i % 20}.isml/Streams(a){token}",
                [.. headerA, .. fragmentsA[0], .. ShiftTfxd(fragmentsA[1], (long)r.Next(1000, int.MaxValue) * 10_000_000)], cancellationToken)),
            ("60 MB box announced, 10 KB sent, client gone", async (i, _) => await TrickleAsync(server.BaseUrl, $"/live/trickle{i % 20}.isml/Streams(a){token}", headerA, cancellationToken)),
            ("time-shift query flood", async (_, r) => await SendAsync(http, HttpMethod.Get,
                $"live/good.isml/{(r.Next(3) switch { 0 => "Manifest", 1 => "master.m3u8", _ => "manifest.mpd" })}?start={1_600_000_000 + r.Next()}&delay={r.Next(100)}", null, cancellationToken)),
            ("forged Host header", async (_, r) => await SendAsync(http, HttpMethod.Get, "live/good.isml/manifest.mpd", null, cancellationToken, host: $"h{r.Next()}.attacker.example")),
            ("reset in the middle of a segment", async (_, _) => await ResetAsync(server.BaseUrl, segment, cancellationToken)),
            ("encoded line breaks in the path", async (_, r) => await SendAsync(http, HttpMethod.Get, $"live%0a{r.Next()}/x%0d.isml/Manifest", null, cancellationToken)),
            ("connections held open from one address", async (_, _) => await HoldAsync(server.BaseUrl, held, cancellationToken)),
            ("players that stop reading a large fragment", async (i, _) => await StallAsync(server.BaseUrl, bigFragments[i % bigFragments.Count], held, cancellationToken)),
        };
        var only = arguments.String("only");
        var selected = kinds.Where(k => only is null || k.Name.Contains(only, StringComparison.OrdinalIgnoreCase)).ToArray();
        foreach (var (name, request) in Enumerable.Range(0, rounds).SelectMany(_ => selected))
        {
            var clock = Stopwatch.StartNew();
            var statuses = await RunAsync(requests, parallel, request, cancellationToken);
            await Task.Delay(2000, cancellationToken); // let the server finish with the connections it was cut off from
            var row = Measure(server, name, requests, clock.Elapsed.TotalSeconds,
                string.Join(" ", statuses.OrderBy(s => s.Key).Select(s => $"{(s.Key == 0 ? "reset" : s.Key.ToString(CultureInfo.InvariantCulture))}x{s.Value}")));
            rows.Add(row);
            Print(row);
            while (held.TryTake(out var socket))
            {
                socket.Dispose();
            }
        }

        using (var check = await http.GetAsync(segment, cancellationToken))
        {
            Console.WriteLine($"afterwards the clean point still serves: {(int)check.StatusCode}; server still running: {!server.HasExited}");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(rows, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return 0;
    }

    private static void Print(Row row) => Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
        "{0,-46} {1,7} {2,7:F1} s  RSS {3,7:F1} MB  kernel TCP {4,6:F1} MB (server's send queues {8,6:F1} MB)  open files {5,5}  archives {6,4}  {7}", row.Kind, row.Requests, row.Seconds, row.RssMb, row.KernelTcpMb, row.OpenFiles, row.ArchiveFiles, row.Statuses, row.ServerSendQueuesMb));

    // The machine's TCP buffers (all sockets, both ends of loopback): /proc/net/sockstat counts them in pages.
    // /proc/net/tcp and tcp6: "sl local_address rem_address st tx_queue:rx_queue ...", addresses as HEX:PORT in hex.
    private static long SendQueueBytes(int port)
    {
        long bytes = 0;
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 4 && int.Parse(fields[1][(fields[1].IndexOf(':', StringComparison.Ordinal) + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
                {
                    bytes += long.Parse(fields[4][..fields[4].IndexOf(':', StringComparison.Ordinal)], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                }
            }
        }

        return bytes;
    }

    private static long KernelTcpBytes()
    {
        var line = File.ReadLines("/proc/net/sockstat").FirstOrDefault(l => l.StartsWith("TCP:", StringComparison.Ordinal)) ?? string.Empty;
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var at = Array.IndexOf(fields, "mem");
        return at > 0 && at + 1 < fields.Length ? long.Parse(fields[at + 1], CultureInfo.InvariantCulture) * Environment.SystemPageSize : 0;
    }

    private static Row Measure(LiveServer server, string kind, int requests, double seconds, string statuses)
    {
        var sample = server.Sample();
        var files = Directory.GetFiles(server.DataPath, "*.ismv", SearchOption.AllDirectories).Length;
        return new Row(kind, requests, seconds, statuses, sample.RssBytes / 1e6, Directory.GetFileSystemEntries($"/proc/{server.ProcessId}/fd").Length, files, KernelTcpBytes() / 1e6)
        {
            ServerSendQueuesMb = SendQueueBytes(server.BaseUrl.Port) / 1e6,
        };
    }

    private static async Task<Dictionary<int, int>> RunAsync(int requests, int parallel, Func<int, Random, Task<int>> request, CancellationToken cancellationToken)
    {
        var statuses = new Dictionary<int, int>();
        var next = -1;
        var workers = Enumerable.Range(0, parallel).Select(async w =>
        {
            var random = new Random(w);
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests)
            {
                var status = await request(i, random);
                lock (statuses)
                {
                    statuses[status] = statuses.GetValueOrDefault(status) + 1;
                }
            }
        });
        await Task.WhenAll(workers);
        return statuses;
    }

    private static async Task<int> SendAsync(HttpClient http, HttpMethod method, string url, byte[]? body, CancellationToken cancellationToken, string? host = null)
    {
        try
        {
            using var request = new HttpRequestMessage(method, url);
            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
            }

            if (host is not null)
            {
                request.Headers.Host = host;
            }

            using var response = await http.SendAsync(request, cancellationToken);
            await response.Content.CopyToAsync(Stream.Null, cancellationToken);
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static async Task<int> TrickleAsync(Uri server, string pathAndQuery, byte[] header, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, cancellationToken);
        var box = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(box, 60 * 1024 * 1024);
        "mdat"u8.CopyTo(box.AsSpan(4));
        byte[] body = [.. header, .. "\0\0\0\x08moof"u8, .. box, .. new byte[10_000]];
        var head = Encoding.ASCII.GetBytes($"POST {pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n{body.Length:x}\r\n");
        await socket.SendAsync(head.Concat(body).Concat("\r\n"u8.ToArray()).ToArray(), cancellationToken);
        await Task.Delay(5, cancellationToken);
        socket.LingerState = new LingerOption(true, 0);
        return 0;
    }

    // A connection that asks for the health check and stays open (until its kind is measured); 0 when the server closed it.
    private static async Task<int> HoldAsync(Uri server, System.Collections.Concurrent.ConcurrentBag<Socket> held, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        held.Add(socket);
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, server.Port, cancellationToken);
            await socket.SendAsync("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"u8.ToArray(), cancellationToken);
            var buffer = new byte[512];
            var read = await socket.ReceiveAsync(buffer, cancellationToken);
            return read > 12 && int.TryParse(Encoding.ASCII.GetString(buffer, 9, 3), CultureInfo.InvariantCulture, out var status) ? status : 0;
        }
        catch (SocketException)
        {
            return 0;
        }
    }

    // A connection with a 4 KB receive window that asks for a fragment, reads its first bytes and then nothing more
    // (until its kind is measured): the answer waits in the server for a client that takes 240 bytes a second or less.
    private static async Task<int> StallAsync(Uri server, string path, System.Collections.Concurrent.ConcurrentBag<Socket> held, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        held.Add(socket);
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, server.Port, cancellationToken);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), cancellationToken);
            var buffer = new byte[1024];
            var read = await socket.ReceiveAsync(buffer, cancellationToken);
            return read > 12 && int.TryParse(Encoding.ASCII.GetString(buffer, 9, 3), CultureInfo.InvariantCulture, out var status) ? status : 0;
        }
        catch (SocketException)
        {
            return 0;
        }
    }

    // Every fragment of every quality level the point's Smooth manifest lists.
    private static async Task<List<string>> FragmentUrlsAsync(HttpClient http, string point, CancellationToken cancellationToken)
    {
        var manifest = System.Xml.Linq.XDocument.Parse(await http.GetStringAsync($"{point}/Manifest", cancellationToken));
        var urls = new List<string>();
        foreach (var stream in manifest.Descendants("StreamIndex"))
        {
            var time = 0L;
            var chunks = stream.Elements("c").Select(c => ((long?)c.Attribute("t"), (long?)c.Attribute("d") ?? 0)).ToList();
            foreach (var level in stream.Elements("QualityLevel"))
            {
                time = 0;
                foreach (var (t, d) in chunks)
                {
                    time = t ?? time;
                    var url = ((string)stream.Attribute("Url")!).Replace("{bitrate}", (string)level.Attribute("Bitrate")!, StringComparison.Ordinal)
                        .Replace("{start time}", time.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
                    urls.Add($"{point}/{url}");
                    time += d;
                }
            }
        }

        return urls.Where(u => u.Contains("video", StringComparison.Ordinal)).ToList();
    }

    private static async Task<int> ResetAsync(Uri server, string segment, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, cancellationToken);
        var request = Encoding.ASCII.GetBytes($"GET /{segment} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        await socket.SendAsync(request.Concat(request).ToArray(), cancellationToken);
        await socket.ReceiveAsync(new byte[1024], cancellationToken);
        socket.LingerState = new LingerOption(true, 0);
        return 0;
    }

    private static async Task<byte[]> CaptureAsync(int kbps, CancellationToken cancellationToken, string size = "160x90", int seconds = 6, bool noise = false)
    {
        var info = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", $"testsrc=size={size}:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
            "-t", seconds.ToString(CultureInfo.InvariantCulture), "-vf", noise ? "noise=alls=100:allf=t" : "null", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-b:v", $"{kbps}k", "-maxrate", $"{kbps}k", "-bufsize", $"{kbps}k", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "32k", "-movflags", "isml+frag_keyframe", "-f", "ismv", "pipe:1"])
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        using var bytes = new MemoryStream();
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardOutput.BaseStream.CopyToAsync(bytes, cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return process.ExitCode == 0 ? bytes.ToArray() : throw new InvalidOperationException("ffmpeg: " + await errors);
    }

    private static (byte[] Header, List<byte[]> Fragments) Split(byte[] capture)
    {
        var fragments = new List<byte[]>();
        byte[]? header = null;
        for (var at = 0; at + 8 <= capture.Length;)
        {
            var size = (int)BinaryPrimitives.ReadUInt32BigEndian(capture.AsSpan(at));
            var type = Encoding.ASCII.GetString(capture, at + 4, 4);
            if (type == "moof")
            {
                header ??= capture[..at];
                var mdat = (int)BinaryPrimitives.ReadUInt32BigEndian(capture.AsSpan(at + size));
                fragments.Add(capture[at..(at + size + mdat)]);
                at += size + mdat;
                continue;
            }

            at += size;
        }

        return (header!, fragments);
    }

    private static byte[] ShiftTfxd(byte[] fragment, long delta)
    {
        var copy = (byte[])fragment.Clone();
        var at = copy.AsSpan().IndexOf(Convert.FromHexString("6d1d9b0542d544e680e2141daff757b2")) + 20;
        BinaryPrimitives.WriteInt64BigEndian(copy.AsSpan(at), BinaryPrimitives.ReadInt64BigEndian(copy.AsSpan(at)) + delta);
        return copy;
    }
}
