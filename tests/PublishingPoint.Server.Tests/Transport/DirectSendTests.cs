using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Tests.Transport;

/// <summary>
/// Large bodies go from memory straight to the socket (PublishingPoint:DirectSend): what a client receives must be
/// byte for byte what Kestrel's own output gives, on kept-alive and pipelined connections, for slow readers and
/// for clients that leave mid-body; with Kestrel running request code inline (PublishingPoint:InlineScheduling) or not.
/// </summary>
public sealed class DirectSendTests
{
    private const string Point = "live/direct.isml";

    [Fact]
    public async Task PipelinedRequests_GetTheSameBytesAsWithoutDirectSend()
    {
        // Segments above DirectSend.SendFileMinimumBytes (32 KB), so they go with sendfile; smaller ones leave from memory.
        var capture = await IsmvCapture.MakeAsync(6, 2500, 64, 1280, 720);
        var spool = TempDirectory.Create("pp-spool");
        // Every segment spooled as it is produced, so each request below is a first one and still goes with sendfile.
        await using var direct = await RunningServer.StartAsync(null, $"--PublishingPoint:SpoolPath={spool}", "--PublishingPoint:SpoolAtRequest=1");
        // The reference is Kestrel as it comes: its own socket output, request code queued to the thread pool, and a
        // receive buffer taken only once a request's bytes are there.
        await using var copied = await RunningServer.StartAsync(null, "--PublishingPoint:DirectSend=false", "--PublishingPoint:InlineScheduling=false", "--PublishingPoint:ReceiveBufferUpFront=false");
        var shipped = direct.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;
        var kestrels = copied.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;
        Assert.True(shipped.UnsafePreferInlineScheduling);
        Assert.False(shipped.WaitForDataBeforeAllocatingBuffer);
        Assert.False(kestrels.UnsafePreferInlineScheduling);
        Assert.True(kestrels.WaitForDataBeforeAllocatingBuffer);
        foreach (var server in new[] { direct, copied })
        {
            var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture);
            Assert.True(status == HttpStatusCode.OK, body);
        }

        // Segments (TS and fMP4), a playlist between them, and a byte range, as Kestrel's copy gives them.
        var media = await copied.Http.GetStringAsync($"{Point}/{HlsText.AttributeLines(await copied.Http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri}");
        var segments = HlsText.Segments(media).Select(s => s.Uri).ToList();
        Assert.True(segments.Count >= 3, media);
        var paths = new List<string>();
        foreach (var segment in segments)
        {
            paths.Add($"/{Point}/hls/{segment}");
            paths.Add($"/{Point}/master.m3u8");
            paths.Add($"/{Point}/hls/{segment.Replace(".ts", ".m4s", StringComparison.Ordinal)}");
        }

        // A Smooth fragment, cached and spooled like the segments.
        var smooth = await SmoothManifestView.FetchVodAsync(copied.Http, copied.Url($"{Point}/Manifest").ToString());
        var fragment = new Uri(smooth.Url("video", smooth.Bitrates("video")[0], smooth.ChunkTimes("video")[1])).PathAndQuery;
        paths.Add(fragment);
        var expected = new List<byte[]>();
        foreach (var path in paths)
        {
            expected.Add(await copied.Http.GetByteArrayAsync(path.TrimStart('/')));
        }

        Assert.All(expected.Where((_, i) => i % 3 != 1 || i == paths.Count - 1), b => Assert.True(b.Length > DirectSendThreshold, $"segment of {b.Length} bytes is below the direct-send threshold"));
        var before = await DirectBodiesAsync(direct.Http, "sendfile");
        var beforeMemory = await DirectBodiesAsync(direct.Http, "memory");

        // All requests written at once on one connection, then a ranged one: responses must come back in order, whole.
        using var client = await RawHttpClient.ConnectAsync(direct.BaseUrl);
        await client.SendAsync(string.Concat(paths.Select(p => Get(direct.BaseUrl, p))));
        foreach (var (path, want) in paths.Zip(expected))
        {
            var response = await client.ReadResponseAsync();
            Assert.Equal(200, response.Status);
            Assert.True(want.AsSpan().SequenceEqual(response.Body), $"{path}: {response.Body.Length} bytes differ from Kestrel's {want.Length}");
        }

        await client.SendAsync(Get(direct.BaseUrl, paths[0], "Range: bytes=1000-30999\r\n"));
        var ranged = await client.ReadResponseAsync();
        Assert.Equal(206, ranged.Status);
        Assert.True(expected[0].AsSpan(1000, 30000).SequenceEqual(ranged.Body), "range differs");
        await client.SendAsync(Get(direct.BaseUrl, $"/{Point}/master.m3u8"));
        Assert.Equal(expected[1], (await client.ReadResponseAsync()).Body);

        // Cached segments and Smooth fragments of 64 KB and more are kept as spooled copies, which leave no file behind,
        // and go with sendfile (the range too, from its offset in the copy); smaller ones leave from memory with their headers.
        var segmentBodies = expected.Take(paths.Count - 1).Where((_, i) => i % 3 != 1).ToList();
        var large = segmentBodies.Count(b => b.Length >= SendFileThreshold);
        Assert.True(large >= 3, $"only {large} segments of 64 KB or more");
        Assert.True(expected[^1].Length >= SendFileThreshold, $"the Smooth fragment has only {expected[^1].Length} bytes");
        Assert.Equal(large + 2, await DirectBodiesAsync(direct.Http, "sendfile") - before);
        Assert.Empty(Directory.GetFiles(spool));
        Assert.Equal(segmentBodies.Count - large, await DirectBodiesAsync(direct.Http, "memory") - beforeMemory);
        Assert.Equal(0, await DirectBodiesAsync(copied.Http));
    }

    [Fact]
    public async Task ASegment_GoesFromMemoryTwice_AndFromItsSpooledCopyFromTheThirdRequestOn()
    {
        var spool = TempDirectory.Create("pp-spool");
        await using var server = await RunningServer.StartAsync(null, $"--PublishingPoint:SpoolPath={spool}");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", await IsmvCapture.MakeAsync(6, 2500, 64, 1280, 720));
        Assert.True(status == HttpStatusCode.OK, body);
        var media = await server.Http.GetStringAsync($"{Point}/{HlsText.AttributeLines(await server.Http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri}");
        var path = $"{Point}/hls/{HlsText.Segments(media)[1].Uri}";
        var files = server.Services.GetRequiredService<SegmentSpool>();
        var sent = new List<string>();
        byte[]? first = null;
        for (var request = 1; request <= 5; request++)
        {
            var (sendfile, memory) = (await DirectBodiesAsync(server.Http, "sendfile"), await DirectBodiesAsync(server.Http, "memory"));
            var bytes = await server.Http.GetByteArrayAsync(path);
            Assert.True(bytes.Length >= SendFileThreshold, $"segment of {bytes.Length} bytes");
            first ??= bytes;
            Assert.True(first.AsSpan().SequenceEqual(bytes), $"request {request} got other bytes");
            var (sendfileAfter, memoryAfter) = (await DirectBodiesAsync(server.Http, "sendfile"), await DirectBodiesAsync(server.Http, "memory"));
            sent.Add(sendfileAfter - sendfile == 1 && memoryAfter == memory ? "sendfile" : memoryAfter - memory == 1 && sendfileAfter == sendfile ? "memory" : "?");
        }

        Assert.Equal(["memory", "memory", "sendfile", "sendfile", "sendfile"], sent);
        Assert.Equal(1, files.OpenFiles);
        Assert.Empty(Directory.GetFiles(spool));
    }

    [Fact]
    public async Task SlowReader_GetsWholeBody_AndClientLeavingMidBody_HarmsNoOne()
    {
        await using var server = await RunningServer.StartAsync();
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", await IsmvCapture.MakeAsync(6, 2500, 64, 1280, 720));
        Assert.True(status == HttpStatusCode.OK, body);
        var media = await server.Http.GetStringAsync($"{Point}/{HlsText.AttributeLines(await server.Http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri}");
        var path = $"/{Point}/hls/{HlsText.Segments(media)[1].Uri}";
        var expected = await server.Http.GetByteArrayAsync(path.TrimStart('/'));
        Assert.True(expected.Length > 128 * 1024, $"segment of {expected.Length} bytes does not fill the socket buffers");

        // Ten clients that ask and go away after 1 KB, with a reset.
        for (var i = 0; i < 10; i++)
        {
            using var leaving = await RawHttpClient.ConnectAsync(server.BaseUrl, receiveBuffer: 4096);
            await leaving.SendAsync(Get(server.BaseUrl, path));
            await leaving.ReadSomeAsync(1024);
            leaving.Reset();
        }

        // A reader that takes 4 KB at a time, so the server's send waits on the socket many times.
        using var slow = await RawHttpClient.ConnectAsync(server.BaseUrl, receiveBuffer: 4096);
        await slow.SendAsync(Get(server.BaseUrl, path) + Get(server.BaseUrl, $"/{Point}/master.m3u8"));
        var slowResponse = await slow.ReadResponseAsync(chunk: 4096, pause: TimeSpan.FromMilliseconds(1));
        Assert.Equal(200, slowResponse.Status);
        Assert.True(expected.AsSpan().SequenceEqual(slowResponse.Body), "slow reader got different bytes");
        var next = await slow.ReadResponseAsync();
        Assert.Equal(200, next.Status);
        Assert.StartsWith("#EXTM3U", Encoding.UTF8.GetString(next.Body), StringComparison.Ordinal);

        // The server still serves everyone else, many at once from the same spooled file.
        var together = await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            using var http = new HttpClient { BaseAddress = server.BaseUrl };
            return await http.GetByteArrayAsync(path.TrimStart('/'));
        }));
        Assert.All(together, b => Assert.True(expected.AsSpan().SequenceEqual(b), "a concurrent reader got different bytes"));
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("health/ready")).StatusCode);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AnswersTheSocketCannotTakeAtOnce_WaitForIt_AndArriveWhole(bool spooled)
    {
        // Spooled: every segment goes with sendfile from its first request; otherwise none is spooled and all leave from memory.
        await using var server = await RunningServer.StartAsync(null, spooled ? "--PublishingPoint:SpoolAtRequest=1" : "--PublishingPoint:MaxSpooledFiles=0");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", await IsmvCapture.MakeAsync(6, 2500, 64, 1280, 720));
        Assert.True(status == HttpStatusCode.OK, body);
        var media = await server.Http.GetStringAsync($"{Point}/{HlsText.AttributeLines(await server.Http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri}");
        var path = $"/{Point}/hls/{HlsText.Segments(media)[1].Uri}";
        var expected = await server.Http.GetByteArrayAsync(path.TrimStart('/'));
        Assert.True(expected.Length >= 128 * 1024, $"segment of {expected.Length} bytes");

        // 64 answers asked for at once and not read: more than any socket buffer here holds (4 MB at most), so sends find
        // it full, take what they can at once and wait for the rest (seen before anything is read); then everything is
        // read, 4 KB at a time.
        var (waits, sendfile, memory) = (await DirectCountAsync(server.Http, "waits"), await DirectBodiesAsync(server.Http, "sendfile"), await DirectBodiesAsync(server.Http, "memory"));
        using var client = await RawHttpClient.ConnectAsync(server.BaseUrl, receiveBuffer: 4096);
        const int Requests = 64;
        await client.SendAsync(string.Concat(Enumerable.Repeat(Get(server.BaseUrl, path), Requests)));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await DirectCountAsync(server.Http, "waits") == waits)
        {
            Assert.True(DateTime.UtcNow < deadline, "no send waited for the socket while nothing was read");
            await Task.Yield();
        }

        for (var i = 0; i < Requests; i++)
        {
            var response = await client.ReadResponseAsync(chunk: 4096);
            Assert.Equal(200, response.Status);
            Assert.True(expected.AsSpan().SequenceEqual(response.Body), $"answer {i + 1} differs");
        }

        // A body is counted once its send has finished, which may be a moment after the client read its last byte.
        var (via, before) = spooled ? ("sendfile", sendfile) : ("memory", memory);
        var counted = await DirectBodiesAsync(server.Http, via) - before;
        for (deadline = DateTime.UtcNow.AddSeconds(10); counted < Requests && DateTime.UtcNow < deadline; counted = await DirectBodiesAsync(server.Http, via) - before)
        {
            await Task.Yield();
        }

        Assert.Equal(Requests, counted);
    }

    /// <summary>
    /// Whether a connection was TLS was read from the request's scheme, which a trusted proxy's X-Forwarded-Proto sets:
    /// a CDN that connects over TLS for a viewer on http made every large answer's body go on the socket in plain text,
    /// in the middle of the TLS stream (a review's finding). It is read from the connection now.
    /// </summary>
    [Fact]
    public async Task OverTls_FromATrustedProxyThatSaysHttp_BodiesAreStillEncrypted()
    {
        var capture = await IsmvCapture.MakeAsync(6, 2500, 64, 1280, 720);
        var certificate = await TestCertificate.CreateAsync();
        await using var tls = await RunningServer.StartAsync(null, [.. certificate.ServerSettings, "--PublishingPoint:TrustedProxies:0=127.0.0.1"]);
        using var http = certificate.Trusting(tls.BaseUrl, HttpVersion.Version11);
        var (status, body) = await Posting.PostChunkedAsync(http, $"{Point}/Streams(a)", capture);
        Assert.True(status == HttpStatusCode.OK, body);

        var media = await http.GetStringAsync($"{Point}/{HlsText.AttributeLines(await http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri}");
        var segment = $"{Point}/hls/{HlsText.Segments(media)[1].Uri}";
        var expected = await http.GetByteArrayAsync(segment);
        Assert.True(expected.Length >= SendFileThreshold, $"segment of {expected.Length} bytes");
        for (var i = 0; i < 4; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, segment);
            request.Headers.Add("X-Forwarded-Proto", "http");
            request.Headers.Add("X-Forwarded-For", "203.0.113.7");
            using var response = await http.SendAsync(request);
            Assert.Equal(expected, await response.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task OverTls_WithHttp11AndHttp2_BodiesAreCopiedAndTheSame()
    {
        var capture = await IsmvCapture.MakeAsync(6, 2500, 64, 1280, 720);
        var certificate = await TestCertificate.CreateAsync();
        await using var plain = await RunningServer.StartAsync();
        await using var tls = await RunningServer.StartAsync(null, certificate.ServerSettings);
        Assert.Equal("https", tls.BaseUrl.Scheme);
        foreach (var server in new[] { plain, tls })
        {
            var (status, body) = await Posting.PostChunkedAsync(certificate.Trusting(server.BaseUrl, HttpVersion.Version11), $"{Point}/Streams(a)", capture);
            Assert.True(status == HttpStatusCode.OK, body);
        }

        var media = await plain.Http.GetStringAsync($"{Point}/{HlsText.AttributeLines(await plain.Http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri}");
        var segment = $"{Point}/hls/{HlsText.Segments(media)[1].Uri}";
        var expected = await plain.Http.GetByteArrayAsync(segment);
        // Large enough to be kept as a spooled file from its third request on: under TLS it is then read back from the file
        // through a pooled buffer. Two requests first (sent from memory), so every answer below comes from the file.
        Assert.True(expected.Length >= SendFileThreshold, $"segment of {expected.Length} bytes");
        using (var first = certificate.Trusting(tls.BaseUrl, HttpVersion.Version11))
        {
            Assert.Equal(expected, await first.GetByteArrayAsync(segment));
            Assert.Equal(expected, await first.GetByteArrayAsync(segment));
        }

        Assert.Equal(0, tls.Services.GetRequiredService<SegmentSpool>().OpenFiles);
        foreach (var version in new[] { HttpVersion.Version11, HttpVersion.Version20 })
        {
            using var http = certificate.Trusting(tls.BaseUrl, version);
            using var response = await http.GetAsync(segment);
            Assert.Equal(version, response.Version);
            Assert.Equal(expected, await response.Content.ReadAsByteArrayAsync());
            using var ranged = new HttpRequestMessage(HttpMethod.Get, segment) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(expected.Length / 3, expected.Length - 1);
            using var part = await http.SendAsync(ranged);
            Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
            Assert.Equal(expected[(expected.Length / 3)..], await part.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(1, tls.Services.GetRequiredService<SegmentSpool>().OpenFiles);
        using (var metrics = certificate.Trusting(tls.BaseUrl, HttpVersion.Version11))
        {
            Assert.Equal(0, await DirectBodiesAsync(metrics));
        }
    }

    private const int DirectSendThreshold = 16 * 1024;
    private const int SendFileThreshold = 64 * 1024;

    private static string Get(Uri server, string path, string extraHeaders = "") =>
        $"GET {path} HTTP/1.1\r\nHost: {server.Authority}\r\n{extraHeaders}\r\n";

    private static async Task<long> DirectBodiesAsync(HttpClient server, string via = "")
    {
        var text = await server.GetStringAsync("metrics");
        return text.Split('\n').Where(l => l.StartsWith($"publishingpoint_transport_direct_bodies{{via=\"{via}", StringComparison.Ordinal))
            .Sum(l => long.Parse(l.AsSpan(l.LastIndexOf(' ') + 1), CultureInfo.InvariantCulture));
    }

    private static async Task<long> DirectCountAsync(HttpClient server, string name)
    {
        var text = await server.GetStringAsync("metrics");
        return text.Split('\n').Where(l => l.StartsWith($"publishingpoint_transport_direct_{name}", StringComparison.Ordinal))
            .Sum(l => long.Parse(l.AsSpan(l.LastIndexOf(' ') + 1), CultureInfo.InvariantCulture));
    }

    /// <summary>HTTP/1.1 over a bare socket: requests written as given, responses read by Content-Length.</summary>
    private sealed class RawHttpClient : IDisposable
    {
        private readonly Socket _socket;
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        private RawHttpClient(Socket socket) => _socket = socket;

        public static async Task<RawHttpClient> ConnectAsync(Uri server, int receiveBuffer = 0)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            if (receiveBuffer > 0)
            {
                socket.ReceiveBufferSize = receiveBuffer;
            }

            await socket.ConnectAsync(IPAddress.Loopback, server.Port);
            return new RawHttpClient(socket);
        }

        public async Task SendAsync(string requests) => await _socket.SendAsync(Encoding.ASCII.GetBytes(requests));

        public async Task ReadSomeAsync(int bytes)
        {
            var read = 0;
            while (read < bytes)
            {
                var n = await _socket.ReceiveAsync(_buffer.AsMemory(0, Math.Min(_buffer.Length, bytes - read)));
                Assert.True(n > 0, "connection closed early");
                read += n;
            }
        }

        public void Reset()
        {
            _socket.LingerState = new LingerOption(true, 0);
            _socket.Close();
        }

        public async Task<(int Status, byte[] Body)> ReadResponseAsync(int chunk = 64 * 1024, TimeSpan pause = default)
        {
            int headerEnd;
            while ((headerEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
            {
                await FillAsync(chunk);
            }

            var head = Encoding.ASCII.GetString(_buffer, _start, headerEnd);
            _start += headerEnd + 4;
            var lines = head.Split("\r\n");
            Assert.True(lines[0].StartsWith("HTTP/1.1 ", StringComparison.Ordinal), $"response starts with '{lines[0]}': the previous body was too long");
            var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
            var length = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p[0].Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                .Select(p => int.Parse(p[1].Trim(), CultureInfo.InvariantCulture)).Single();
            var body = new byte[length];
            var got = 0;
            while (got < length)
            {
                if (_start == _end)
                {
                    if (pause > TimeSpan.Zero)
                    {
                        await Task.Delay(pause);
                    }

                    await FillAsync(chunk);
                }

                var n = Math.Min(length - got, _end - _start);
                _buffer.AsSpan(_start, n).CopyTo(body.AsSpan(got));
                _start += n;
                got += n;
            }

            return (status, body);
        }

        private async Task FillAsync(int chunk)
        {
            if (_start == _end)
            {
                _start = _end = 0;
            }
            else if (_end == _buffer.Length)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var n = await _socket.ReceiveAsync(_buffer.AsMemory(_end, Math.Min(chunk, _buffer.Length - _end)), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "connection closed before the response was complete");
            _end += n;
        }

        public void Dispose() => _socket.Dispose();
    }
}
