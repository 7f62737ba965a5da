using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Delivery;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>Rendered manifests are cached per resource, never per client-chosen query or Host, and never reflect a request header.</summary>
public sealed class RenderedOutputTests
{
    /// <summary>Players that accept gzip and come together for a new version wait for one gzip copy, not each make their own.</summary>
    [Fact]
    public async Task FirstRequestsTogetherForTheGzipCopy_MakeItOnce()
    {
        var output = new RenderedOutput(1, new byte[1000], "\"t\"", 1, "application/vnd.apple.mpegurl");
        var made = 0;
        var arrived = 0;
        byte[] Compress(byte[] bytes)
        {
            Interlocked.Increment(ref made);
            // A long playlist's gzip: it lasts until every request has arrived (or 5 s, should one never come).
            SpinWait.SpinUntil(() => Volatile.Read(ref arrived) == 8, TimeSpan.FromSeconds(5));
            return [.. bytes.Take(10)];
        }

        var copies = Enumerable.Range(0, 8).Select(_ => Task.Factory.StartNew(() =>
        {
            Interlocked.Increment(ref arrived);
            return output.Gzipped(Compress);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        var results = await Task.WhenAll(copies);
        Assert.Equal(1, made);
        Assert.All(results, r => Assert.Same(results[0], r));
    }

    [Fact]
    public async Task TimeShiftQueryFlood_LeavesTheCacheAtOneEntryPerResource()
    {
        using var server = new InProcessServer();
        var capture = await IsmvCapture.SixSecondsAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/flood.isml/Streams(a)", capture)).Status);
        string[] resources = ["live/flood.isml/master.m3u8", "live/flood.isml/hls/video-400000.m3u8", "live/flood.isml/manifest.mpd", "live/flood.isml/Manifest"];
        foreach (var resource in resources)
        {
            using var _ = await server.Http.GetAsync(resource);
        }

        var point = server.Services.GetRequiredService<PointRegistry>().Find(PointPathOf("live/flood.isml"))!;
        var baseline = (point.Output.Count, point.Output.Bytes);
        for (var i = 0; i < 500; i++)
        {
            foreach (var resource in resources)
            {
                using var response = await server.Http.GetAsync($"{resource}?start={1_700_000_000 + i}&delay={i % 7}");
                Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound, $"{resource}: {(int)response.StatusCode}");
            }
        }

        Assert.Equal(baseline, (point.Output.Count, point.Output.Bytes));
    }

    [Fact]
    public async Task TimeShiftedAnswers_AreSharedOutPerClient_TheForwardedOneBehindATrustedProxy()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:TrustedProxies:0=10.0.0.5", "--PublishingPoint:TrustedProxies:1=2001:db8:ff::/48");
        var outputs = server.Services.GetRequiredService<ShiftedOutputs>();
        UInt128? ClientOf(string address)
        {
            var context = new DefaultHttpContext();
            context.Connection.RemoteIpAddress = IPAddress.Parse(address);
            return outputs.ClientOf(context);
        }

        // A trusted proxy that forwarded no address is not limited (the forwarded address has taken its place otherwise).
        Assert.Null(ClientOf("10.0.0.5"));
        Assert.Null(ClientOf("::ffff:10.0.0.5"));
        Assert.Null(ClientOf("2001:db8:ff:1::9"));
        Assert.NotNull(ClientOf("10.0.0.6"));
        Assert.NotEqual(ClientOf("203.0.113.7"), ClientOf("203.0.113.8"));
        Assert.Equal(ClientOf("203.0.113.7"), ClientOf("::ffff:203.0.113.7"));
        Assert.Equal(ClientOf("2001:db8:1:2::1"), ClientOf("2001:db8:1:2:ffff::2")); // one subscriber's /64
        Assert.NotEqual(ClientOf("2001:db8:1:2::1"), ClientOf("2001:db8:1:3::1"));

        // Through the proxy, a flood of distinct start-over queries from one viewer and another viewer's request are all
        // answered (rendered, or 429 past the flooder's share of the render queue), never 503 for the other viewer.
        await using var proxied = await RunningServer.StartAsync(null, "--PublishingPoint:TrustedProxies:0=127.0.0.1");
        var (status, body) = await Posting.PostChunkedAsync(proxied.Http, "live/share.isml/Streams(a)", await IsmvCapture.SixSecondsAsync());
        Assert.True(status == HttpStatusCode.OK, body);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = proxied.Http.BaseAddress };
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600;
        async Task<HttpStatusCode> AskAsync(string client, int i)
        {
            // Each a start before the stream's: the whole of it, under a query of its own.
            using var request = new HttpRequestMessage(HttpMethod.Get, $"live/share.isml/{(i % 2 == 0 ? "Manifest" : "master.m3u8")}?start={before - i}");
            request.Headers.Add("X-Forwarded-For", client);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        var flood = Enumerable.Range(0, 60).Select(i => AskAsync("203.0.113.7", i)).ToList();
        Assert.Equal(HttpStatusCode.OK, await AskAsync("203.0.113.8", 1000));
        Assert.All(await Task.WhenAll(flood), s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{(int)s}"));
        Assert.Equal(HttpStatusCode.OK, await AskAsync("203.0.113.7", 2000));
    }

    [Fact]
    public async Task ViewersBehindOneAddress_OpeningOneStartOverLinkAtOnce_WaitForOneRender_NoneRefused()
    {
        // A campus behind one NAT address opens a start-over link that was just shared, while the render gate is busy
        // (here: its turns held by the test). Each asking for a turn of its own, the fifth would get 429 and a crowd past
        // the gate's queue 503; they wait for the first one's render instead.
        await using var server = await RunningServer.StartAsync();
        var (outputs, link, http) = await StartOverLinkAsync(server, "crowd");
        using var _ = http;
        var rendersBefore = outputs.Renders;
        var held = await HoldTheGateAsync(outputs);
        List<Task<(HttpStatusCode Status, string Body)>> crowd;
        try
        {
            crowd = Enumerable.Range(0, 8).Select(_ => AskAsync(http, link, CancellationToken.None)).ToList();
            await Eventually.WaitUntilAsync(() => outputs.Waiting == 7, "seven requests waiting for the first one's render");
        }
        finally
        {
            held.ForEach(turn => turn.Dispose());
        }

        var answers = await Task.WhenAll(crowd).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(answers, a => Assert.True(a.Status == HttpStatusCode.OK, $"{(int)a.Status} {a.Body}"));
        Assert.Single(answers.Select(a => a.Body).Distinct());
        Assert.Equal(1, outputs.Renders - rendersBefore);
        Assert.Equal(7, outputs.Joined);
        Assert.Equal(0, outputs.Waiting);
        var metrics = await server.Http.GetStringAsync("metrics");
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("publishingpoint_delivery_shifted_joined", StringComparison.Ordinal) && l.EndsWith(" 7", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AStartOverRequestOthersWaitFor_LeavingBeforeItsTurn_HandsTheRenderToOneOfThem()
    {
        // The first asker of a popular link (a player that timed out in the queue, or someone doing it on purpose) leaves
        // while it waits for a turn: one of those waiting for it takes its place, and the others wait for that one.
        await using var server = await RunningServer.StartAsync();
        var (outputs, link, http) = await StartOverLinkAsync(server, "leaver");
        using var _ = http;
        var rendersBefore = outputs.Renders;
        var held = await HoldTheGateAsync(outputs);
        using var leaving = new CancellationTokenSource();
        Task<(HttpStatusCode Status, string Body)> first;
        List<Task<(HttpStatusCode Status, string Body)>> others;
        try
        {
            first = AskAsync(http, link, leaving.Token);
            await Eventually.WaitUntilAsync(() => outputs.Leading == 1, "the first request waiting for its turn");
            others = Enumerable.Range(0, 3).Select(_ => AskAsync(http, link, CancellationToken.None)).ToList();
            await Eventually.WaitUntilAsync(() => outputs.Waiting == 3, "three requests waiting for the first one's render");
            await leaving.CancelAsync();
            await Eventually.WaitUntilAsync(() => outputs.Waiting == 2 && outputs.Leading == 1, "one of the three leading, two waiting for it");
        }
        finally
        {
            held.ForEach(turn => turn.Dispose());
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        var answers = await Task.WhenAll(others).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(answers, a => Assert.True(a.Status == HttpStatusCode.OK, $"{(int)a.Status} {a.Body}"));
        Assert.Equal(1, outputs.Renders - rendersBefore);
        Assert.Equal(2, outputs.Joined);
    }

    private static async Task<(ShiftedOutputs Outputs, string Link, HttpClient Http)> StartOverLinkAsync(RunningServer server, string name)
    {
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"live/{name}.isml/Streams(a)", await IsmvCapture.SixSecondsAsync());
        Assert.True(status == HttpStatusCode.OK, body);
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = server.Http.BaseAddress };
        return (server.Services.GetRequiredService<ShiftedOutputs>(), $"live/{name}.isml/master.m3u8?start={DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600}", http);
    }

    // Every turn of the render gate, so the requests of a test queue for one.
    private static async Task<List<IDisposable>> HoldTheGateAsync(ShiftedOutputs outputs)
    {
        var held = new List<IDisposable>();
        for (var i = 0; i < outputs.Gate.Concurrency; i++)
        {
            held.Add((await outputs.Gate.EnterAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)))!);
        }

        return held;
    }

    private static async Task<(HttpStatusCode Status, string Body)> AskAsync(HttpClient http, string link, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(link, cancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    [Fact]
    public async Task DashUtcTiming_IsRelative_AndTheMpdIsTheSameForEveryHost()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        await using var push = await HeldPush.StartAsync(server.BaseUrl, "/live/clock.isml/Streams(a)");
        await push.SendAsync(capture);
        await Eventually.WaitUntilAsync(async () => (await server.Http.GetAsync("live/clock.isml/manifest.mpd")).IsSuccessStatusCode, "no MPD");
        // The capture indexed to its end, so both hosts are answered from one version.
        var fragments = Boxes.TopLevel(capture).Count(b => b.Type == "moof");
        var registry = server.Services.GetRequiredService<PointRegistry>();
        await Eventually.WaitUntilAsync(() => Task.FromResult(registry.Find("live/clock.isml")?.Tracks().Sum(t => t.Count) == fragments),
            "the capture was never indexed to its end", TimeSpan.FromSeconds(30));

        var bodies = new List<string>();
        foreach (var host in new[] { "localhost", "127.0.0.1" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "live/clock.isml/manifest.mpd");
            request.Headers.Host = host;
            request.Headers.Add("X-Forwarded-Host", "attacker.example");
            using var response = await server.Http.SendAsync(request);
            bodies.Add(await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(bodies[0], bodies[1]);
        Assert.Contains("type=\"dynamic\"", bodies[0], StringComparison.Ordinal);
        Assert.Contains("<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"time\"", bodies[0], StringComparison.Ordinal);
        Assert.DoesNotContain("attacker", bodies[0], StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", bodies[0], StringComparison.Ordinal);
        var clock = await server.Http.GetStringAsync("live/clock.isml/time");
        Assert.True(DateTimeOffset.TryParse(clock, System.Globalization.CultureInfo.InvariantCulture, out var time));
        Assert.InRange((DateTimeOffset.UtcNow - time).Duration().TotalSeconds, 0, 5);
    }

    private static PointPath PointPathOf(string value) => PointPath.TryParse(value, out var path, out _) ? path : throw new ArgumentException(value);
}
