using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Transport;

/// <summary>
/// A player's request that gets the answer the server gave before is answered below Kestrel (AnswerReplay): the same
/// bytes, headers and counters as the pipeline's, and nothing else changes on that connection.
/// </summary>
public sealed class AnswerReplayTests
{
    private const string Point = "live/replay.isml";

    [Fact]
    public async Task TheSameRequestAgain_GetsTheSameAnswer_FromTheReplay()
    {
        await using var server = await LiveAsync();
        using var player = await RawConnection.OpenAsync(server.BaseUrl);
        var before = await ReplayedAsync(server);
        var playlist = $"/{Point}/hls/video-400000.m3u8";
        var first = await player.GetAsync(playlist);
        var again = await player.GetAsync(playlist);
        var segment = await player.GetAsync($"/{Point}/hls/video-400000/1.ts");
        var segmentAgain = await player.GetAsync($"/{Point}/hls/video-400000/1.ts");
        Assert.Equal(200, first.Status);
        Assert.Equal(200, segment.Status);
        Assert.Equal(first.Body, again.Body);
        Assert.Equal(segment.Body, segmentAgain.Body);
        Assert.Equal(first.HeadersButDate, again.HeadersButDate);
        Assert.Equal(segment.HeadersButDate, segmentAgain.HeadersButDate);
        Assert.Equal(before + 2, await ReplayedAsync(server));
    }

    [Fact]
    public async Task AReplayedPlaylist_FollowsTheStream_AndADeletedPoint_IsNotReplayed()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=60", "--PublishingPoint:AdminApiKey=operator-key");
        var live = IsmvCapture.WithoutEnd(await IsmvCapture.SixSecondsAsync());
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", live)).Status);

        using var player = await RawConnection.OpenAsync(server.BaseUrl);
        var playlist = $"/{Point}/hls/video-400000.m3u8";
        var first = await player.GetAsync(playlist);
        var again = await player.GetAsync(playlist);
        Assert.Equal(first.Body, again.Body);
        var replayed = await ReplayedAsync(server);
        Assert.True(replayed >= 1, "the second playlist was not replayed");

        // The same media 6 s later on the encoder's clock: the playlist moves on, and so does its replay.
        var later = IsmvCapture.Later(live, 60_000_000);
        var firstFragment = Boxes.TopLevel(later).First(b => b.Type == "moof").Offset;
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", later[firstFragment..])).Status);
        var moved = await player.GetAsync(playlist);
        var movedAgain = await player.GetAsync(playlist);
        Assert.True(Segments(moved.Body) > Segments(first.Body), $"{Segments(first.Body)} segments before the second push, {Segments(moved.Body)} after");
        Assert.Equal(moved.Body, movedAgain.Body);
        Assert.Equal(await server.Http.GetStringAsync(new Uri(playlist[1..], UriKind.Relative)), Encoding.UTF8.GetString(movedAgain.Body));
        Assert.True(await ReplayedAsync(server) > replayed, "the moved playlist was not replayed");

        using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri($"api/points/{Point}", UriKind.Relative));
        request.Headers.Add("X-Api-Key", "operator-key");
        using (var delete = await server.Http.SendAsync(request))
        {
            Assert.True(delete.IsSuccessStatusCode, $"delete: {delete.StatusCode}");
        }

        Assert.Equal(404, (await player.GetAsync(playlist)).Status);
        Assert.Equal(404, (await player.GetAsync($"/{Point}/hls/video-400000/1.ts")).Status);
    }

    [Fact]
    public async Task AnOutputRenderedAgainAtTheSameVersion_IsWhatIsReplayed()
    {
        await using var server = await LiveAsync();
        using var player = await RawConnection.OpenAsync(server.BaseUrl);
        var playlist = $"/{Point}/hls/video-400000.m3u8";
        var first = await player.GetAsync(playlist);
        Assert.Equal(first.Body, (await player.GetAsync(playlist)).Body);

        // Two renders of one version may differ (an I-frame playlist lists the keyframe ranges known when it was made):
        // the pipeline answers with the one its output cache holds last, and so must the replay.
        var point = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>(server.Services).Find(Point)!;
        Assert.True(point.Output.TryGet("hls/video-400000.m3u8", point.Version, out var held));
        var again = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n"u8.ToArray();
        point.Output.Set("hls/video-400000.m3u8", held with { Bytes = again, ETag = "\"again\"" });
        var answer = await player.GetAsync(playlist);
        Assert.Equal(again, answer.Body);
        Assert.Equal(await server.Http.GetByteArrayAsync(new Uri(playlist[1..], UriKind.Relative)), answer.Body);
    }

    [Fact]
    public async Task EveryOtherRequest_OnAReplayingConnection_IsAnsweredByThePipeline()
    {
        await using var server = await LiveAsync();
        using var player = await RawConnection.OpenAsync(server.BaseUrl);
        var segment = $"/{Point}/hls/video-400000/1.ts";
        var whole = await player.GetAsync(segment);
        Assert.Equal(whole.Body, (await player.GetAsync(segment)).Body);

        var range = await player.GetAsync(segment, "Range: bytes=10-19\r\n");
        Assert.Equal(206, range.Status);
        Assert.Equal(whole.Body[10..20], range.Body);
        var playlist = await player.GetAsync($"/{Point}/hls/video-400000.m3u8");
        var etag = playlist.HeadersButDate.Split('\n').Single(h => h.StartsWith("etag: ", StringComparison.Ordinal))[6..];
        Assert.Equal(304, (await player.GetAsync($"/{Point}/hls/video-400000.m3u8", $"If-None-Match: {etag}\r\n")).Status);
        var gzip = await player.GetAsync($"/{Point}/hls/video-400000.m3u8", "Accept-Encoding: gzip\r\n");
        Assert.Contains("content-encoding: gzip", gzip.HeadersButDate, StringComparison.Ordinal);
        Assert.Equal(gzip.Body, (await player.GetAsync($"/{Point}/hls/video-400000.m3u8", "Accept-Encoding: gzip\r\n")).Body);
        Assert.DoesNotContain("content-encoding", (await player.GetAsync($"/{Point}/hls/video-400000.m3u8")).HeadersButDate, StringComparison.Ordinal);

        // A GET with a body that reads as a request: Kestrel takes it as the body (it is not answered), and the request after it is.
        var hidden = $"GET /{Point}/hls/video-400000.m3u8 HTTP/1.1\r\nHost: {player.Host}\r\nUser-Agent: test\r\n\r\n";
        await player.SendAsync($"GET /{Point}/nothing-here HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {hidden.Length}\r\n\r\n{hidden}");
        Assert.Equal(404, (await player.ReadAnswerAsync()).Status);
        var next = await player.GetAsync(segment);
        Assert.Equal(whole.Body, next.Body);

        // A POST hands the connection to Kestrel for good; what follows on it is still answered.
        await player.SendAsync($"POST /{Point}/Streams(b) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
        Assert.InRange((await player.ReadAnswerAsync()).Status, 200, 499);
        Assert.Equal(whole.Body, (await player.GetAsync(segment)).Body);
    }

    [Fact]
    public async Task KestrelsLimitsOnRequestHeads_HoldForReplayedAnswersToo()
    {
        await using var server = await LiveAsync("--Kestrel:Limits:MaxRequestHeaderCount=3");
        using var player = await RawConnection.OpenAsync(server.BaseUrl);
        var playlist = $"/{Point}/hls/video-400000.m3u8";
        Assert.Equal(200, (await player.GetAsync(playlist)).Status);
        Assert.Equal(200, (await player.GetAsync(playlist)).Status);

        // Two more headers no answer reads: four, one past the limit.
        var refused = await player.GetAsync(playlist, "Accept: */*\r\nAccept-Language: en\r\n");
        Assert.Equal(431, refused.Status);
    }

    [Fact]
    public async Task AConnectionWhoseRequestsAreNotReplayed_IsHandedToKestrel()
    {
        await using var server = await LiveAsync();
        using var player = await RawConnection.OpenAsync(server.BaseUrl);
        var playlist = $"/{Point}/hls/video-400000.m3u8";
        Assert.Equal(200, (await player.GetAsync(playlist)).Status);
        var before = await ReplayedAsync(server);
        Assert.Equal(200, (await player.GetAsync(playlist)).Status);
        Assert.Equal(before + 1, await ReplayedAsync(server));

        // Eight answers in a row the lane could not give (a CDN's edge asks for each thing once): Kestrel has the
        // connection from then on, and the same playlist is answered by the pipeline.
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(200, (await player.GetAsync(playlist, "X-Forwarded-For: 192.0.2.1\r\n")).Status);
        }

        Assert.Equal(200, (await player.GetAsync(playlist)).Status);
        Assert.Equal(before + 1, await ReplayedAsync(server));
    }

    [Fact]
    public async Task APagesCrossOriginRequest_GetsTheCorsAnswerAgain_AndOnlyToRequestsWithAnOrigin()
    {
        await using var server = await LiveAsync();
        using var page = await RawConnection.OpenAsync(server.BaseUrl);
        var playlist = $"/{Point}/hls/video-400000.m3u8";
        var first = await page.GetAsync(playlist, "Origin: https://one.example\r\n");
        var before = await ReplayedAsync(server);
        var again = await page.GetAsync(playlist, "Origin: https://two.example\r\n");
        Assert.Equal(before + 1, await ReplayedAsync(server));
        Assert.Equal(first.Body, again.Body);
        Assert.Equal(first.HeadersButDate, again.HeadersButDate);
        Assert.Contains("access-control-allow-origin: *", again.HeadersButDate, StringComparison.Ordinal);
        Assert.Contains("access-control-expose-headers: ", again.HeadersButDate, StringComparison.Ordinal);

        // Without an Origin the answer has no CORS list of exposed headers: it is not the one kept for pages.
        var plain = await page.GetAsync(playlist);
        Assert.Equal(first.Body, plain.Body);
        Assert.DoesNotContain("access-control-expose-headers", plain.HeadersButDate, StringComparison.Ordinal);
        Assert.Equal(before + 1, await ReplayedAsync(server));

        // Two Origins are not one page's request: the pipeline answers them.
        await page.GetAsync(playlist, "Origin: https://one.example\r\nOrigin: https://two.example\r\n");
        Assert.Equal(before + 1, await ReplayedAsync(server));

        // An empty Origin gets no CORS headers; that answer is not what a page asking next gets. Nor is one kept for a
        // request without an Origin.
        var segment = $"/{Point}/hls/video-400000/1.ts";
        foreach (var asked in new[] { "Origin: \r\n", "" })
        {
            var target = asked.Length > 0 ? segment : $"/{Point}/hls/video-400000/2.ts";
            var odd = await page.GetAsync(target, asked);
            Assert.Equal(200, odd.Status);
            Assert.DoesNotContain("access-control-expose-headers", odd.HeadersButDate, StringComparison.Ordinal);
            var next = await page.GetAsync(target, "Origin: https://one.example\r\n");
            Assert.Contains("access-control-allow-origin: *", next.HeadersButDate, StringComparison.Ordinal);
            Assert.Contains("access-control-expose-headers: ", next.HeadersButDate, StringComparison.Ordinal);
            Assert.Equal(odd.Body, next.Body);
        }
    }

    [Fact]
    public async Task WhereOnlySomeOriginsMayRead_AnswersToPagesAreNotReplayed()
    {
        await using var server = await LiveAsync("--PublishingPoint:CorsOrigins:0=https://one.example");
        using var page = await RawConnection.OpenAsync(server.BaseUrl);
        var playlist = $"/{Point}/hls/video-400000.m3u8";
        var before = await ReplayedAsync(server);
        var first = await page.GetAsync(playlist, "Origin: https://one.example\r\n");
        var other = await page.GetAsync(playlist, "Origin: https://two.example\r\n");
        var again = await page.GetAsync(playlist, "Origin: https://one.example\r\n");
        Assert.Contains("access-control-allow-origin: https://one.example", first.HeadersButDate, StringComparison.Ordinal);
        Assert.DoesNotContain("access-control-allow-origin", other.HeadersButDate, StringComparison.Ordinal);
        Assert.Equal(first.HeadersButDate, again.HeadersButDate);
        Assert.Equal(before, await ReplayedAsync(server));
    }

    /// <summary>
    /// Every live segment a player fetched was kept until the store was full (4,096 answers), though its segment had
    /// left the segment cache a minute after its last request: the soak's heap dumps counted them growing. Such an
    /// answer is now dropped at the store's next sweep, and the segment asked for again is made again and kept again.
    /// </summary>
    [Fact]
    public async Task AKeptSegment_IsDroppedOnceTheSegmentCacheLetsItGo()
    {
        await using var server = await LiveAsync();
        using var player = await RawConnection.OpenAsync(server.BaseUrl);
        var target = $"/{Point}/hls/video-400000/1.ts";
        var first = await player.GetAsync(target);
        Assert.Equal(200, first.Status);
        var replayed = await ReplayedAsync(server);
        Assert.Equal(first.Body, (await player.GetAsync(target)).Body);
        Assert.Equal(replayed + 1, await ReplayedAsync(server));

        var store = server.Services.GetRequiredService<PublishingPoint.Server.Delivery.AnswerStore>();
        var cache = server.Services.GetRequiredService<PublishingPoint.Server.Delivery.SegmentCache>();
        var point = server.Services.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>().Find(Point)!;
        var video = point.Tracks().Single(t => t.Key.Name == "video" && t.Key.Bitrate == 400_000).Key;
        store.Sweep();
        var kept = store.Count;
        cache.Evict(new PublishingPoint.Server.Delivery.Hls.HlsSegmentKey(point, video, PublishingPoint.Server.Delivery.Hls.HlsFormat.Ts, 1));
        await Eventually.WaitUntilAsync(() =>
        {
            store.Sweep();
            return store.Count == kept - 1;
        }, $"the answer of a segment the cache let go is still kept ({kept} answers before the eviction)", TimeSpan.FromSeconds(10));

        // Asked for again: the pipeline makes it again (the same bytes), and the answer after that is a replay again.
        replayed = await ReplayedAsync(server);
        Assert.Equal(first.Body, (await player.GetAsync(target)).Body);
        Assert.Equal(replayed, await ReplayedAsync(server));
        Assert.Equal(first.Body, (await player.GetAsync(target)).Body);
        Assert.Equal(replayed + 1, await ReplayedAsync(server));
    }

    [Fact]
    public async Task AKeptAnswer_IsNotGivenToAHostNoLongerAllowed()
    {
        using var hosts = new ChangingHosts();
        await using var server = await RunningServer.StartAsync(null, services =>
        {
            services.AddSingleton<IOptionsChangeTokenSource<HostFilteringOptions>>(hosts);
            services.PostConfigure<HostFilteringOptions>(o => o.AllowedHosts = hosts.Allowed ?? o.AllowedHosts);
        }, "--PublishingPoint:FinalizeGraceSeconds=60");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", IsmvCapture.WithoutEnd(await IsmvCapture.SixSecondsAsync()));
        Assert.True(status == HttpStatusCode.OK, body);
        using var player = await RawConnection.OpenAsync(server.BaseUrl);
        var playlist = $"/{Point}/hls/video-400000.m3u8";
        var segment = $"/{Point}/hls/video-400000/1.ts";
        foreach (var target in new[] { playlist, segment, playlist, segment })
        {
            Assert.Equal(200, (await player.GetAsync(target)).Status);
        }

        var replayed = await ReplayedAsync(server);
        Assert.True(replayed >= 2, $"{replayed} replayed");

        // The operator reloads AllowedHosts without this server's address: the pipeline refuses it, and so does the replay.
        hosts.Change(["origin.example"]);
        Assert.Equal(400, (await player.GetAsync(playlist)).Status);
        Assert.Equal(400, (await player.GetAsync(segment)).Status);
        hosts.Change(["127.0.0.1"]);
        Assert.Equal(200, (await player.GetAsync(playlist)).Status);
        Assert.Equal(replayed, await ReplayedAsync(server));

        // A request that passed the filter just before a reload is kept only if its Host is still allowed.
        var store = server.Services.GetRequiredService<PublishingPoint.Server.Delivery.AnswerStore>();
        var point = server.Services.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>().Find(Point)!;
        Assert.True(point.Output.TryGet("hls/video-400000.m3u8", point.Version, out var held));
        void Keep()
        {
            var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
            context.Request.Method = "GET";
            context.Request.Path = playlist;
            context.Request.Headers.Host = "127.0.0.1:1"; // allowed (the port is not compared), and not the player's key
            context.Response.StatusCode = 200;
            context.Response.ContentLength = held.Bytes.Length;
            var note = new PublishingPoint.Server.Delivery.AnswerNote();
            note.Rendered(held.Bytes, held);
            note.Keyed("hls/video-400000.m3u8");
            store.Record(context, point, note, "hls", viewer: true);
        }

        store.Sweep();
        var kept = store.Count;
        hosts.Change(["origin.example"]);
        Keep();
        Assert.Equal(kept, store.Count);
        hosts.Change(["127.0.0.1"]);
        store.Sweep();
        kept = store.Count;
        Keep();
        Assert.Equal(kept + 1, store.Count);
    }

    /// <summary>AllowedHosts as an operator reloads it: a change token fired by <see cref="Change"/>.</summary>
    private sealed class ChangingHosts : IOptionsChangeTokenSource<HostFilteringOptions>, IDisposable
    {
        private CancellationTokenSource _changed = new();

        public IList<string>? Allowed { get; private set; }

        public string Name => Options.DefaultName;

        public IChangeToken GetChangeToken() => new CancellationChangeToken(_changed.Token);

        public void Change(IList<string> allowed)
        {
            Allowed = allowed;
            var fired = Interlocked.Exchange(ref _changed, new CancellationTokenSource());
            fired.Cancel();
            fired.Dispose();
        }

        public void Dispose() => _changed.Dispose();
    }

    // A server with the six-second capture pushed and left live.
    private static async Task<RunningServer> LiveAsync(params string[] settings)
    {
        var server = await RunningServer.StartAsync(null, ["--PublishingPoint:FinalizeGraceSeconds=60", .. settings]);
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", IsmvCapture.WithoutEnd(await IsmvCapture.SixSecondsAsync()));
        Assert.True(status == HttpStatusCode.OK, body);
        return server;
    }

    private static int Segments(byte[] playlist) => Encoding.UTF8.GetString(playlist).Split('\n').Count(l => l.StartsWith("#EXTINF", StringComparison.Ordinal));

    private static async Task<long> ReplayedAsync(RunningServer server)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("metrics", UriKind.Relative));
        request.Headers.Add("X-Api-Key", "operator-key");
        using var response = await server.Http.SendAsync(request);
        var metrics = await response.EnsureSuccessStatusCode().Content.ReadAsStringAsync();
        var line = metrics.Split('\n').SingleOrDefault(l => l.StartsWith("publishingpoint_transport_answers_replayed", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>One HTTP/1.1 connection written and read by hand: requests as a player's, answers read by their Content-Length.</summary>
    private sealed class RawConnection : IDisposable
    {
        private readonly TcpClient _client;
        private readonly NetworkStream _stream;
        private readonly string _host;
        private byte[] _buffer = new byte[1 << 20];
        private int _held;

        private RawConnection(TcpClient client, string host)
        {
            _client = client;
            _stream = client.GetStream();
            _host = host;
        }

        public string Host => _host;

        public static async Task<RawConnection> OpenAsync(Uri server)
        {
            var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, server.Port);
            return new RawConnection(client, $"127.0.0.1:{server.Port}");
        }

        public async Task<Answer> GetAsync(string target, string extraHeaders = "")
        {
            await SendAsync($"GET {target} HTTP/1.1\r\nHost: {_host}\r\nUser-Agent: test\r\n{extraHeaders}\r\n");
            return await ReadAnswerAsync();
        }

        public Task SendAsync(string head) => _stream.WriteAsync(Encoding.ASCII.GetBytes(head)).AsTask();

        public async Task<Answer> ReadAnswerAsync()
        {
            int end;
            while ((end = _buffer.AsSpan(0, _held).IndexOf("\r\n\r\n"u8)) < 0)
            {
                await FillAsync();
            }

            var head = Encoding.ASCII.GetString(_buffer, 0, end);
            var lines = head.Split("\r\n");
            var headers = lines.Skip(1).Select(l => (Name: l[..l.IndexOf(':')], Value: l[(l.IndexOf(':') + 1)..].Trim())).ToList();
            var declared = headers.SingleOrDefault(h => h.Name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Value;
            var length = declared is null ? 0 : int.Parse(declared, System.Globalization.CultureInfo.InvariantCulture);
            while (_held < end + 4 + length)
            {
                await FillAsync();
            }

            var body = _buffer.AsSpan(end + 4, length).ToArray();
            _buffer.AsSpan(end + 4 + length, _held - end - 4 - length).CopyTo(_buffer);
            _held -= end + 4 + length;
            var sorted = headers.Where(h => !h.Name.Equals("Date", StringComparison.OrdinalIgnoreCase))
                .Select(h => $"{h.Name.ToLowerInvariant()}: {h.Value}").Order(StringComparer.Ordinal).ToList();
            Assert.Single(headers, h => h.Name.Equals("Date", StringComparison.OrdinalIgnoreCase));
            return new Answer(int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), string.Join("\n", sorted), body);
        }

        private async Task FillAsync()
        {
            if (_held == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var n = await _stream.ReadAsync(_buffer.AsMemory(_held)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            if (n == 0)
            {
                throw new IOException("the server closed the connection");
            }

            _held += n;
        }

        public void Dispose() => _client.Dispose();
    }

    private sealed record Answer(int Status, string HeadersButDate, byte[] Body);
}
