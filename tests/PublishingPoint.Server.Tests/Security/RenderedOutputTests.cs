using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>Rendered manifests are cached per resource, never per client-chosen query or Host, and never reflect a request header.</summary>
public sealed class RenderedOutputTests
{
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
    public async Task DashUtcTiming_IsRelative_AndTheMpdIsTheSameForEveryHost()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        await using var push = await HeldPush.StartAsync(server.BaseUrl, "/live/clock.isml/Streams(a)");
        await push.SendAsync(capture);
        await Eventually.WaitUntilAsync(async () => (await server.Http.GetAsync("live/clock.isml/manifest.mpd")).IsSuccessStatusCode, "no MPD");
        // The capture indexed to its end (the MPD no longer changes), so both hosts are answered from one version.
        var last = string.Empty;
        await Eventually.WaitUntilAsync(async () =>
        {
            var now = await server.Http.GetStringAsync("live/clock.isml/manifest.mpd");
            var settled = now == last;
            last = now;
            return settled;
        }, "the MPD kept changing");

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
