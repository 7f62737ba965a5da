using System.Net;
using Microsoft.Extensions.Time.Testing;
using PublishingPoint.Server.Tests.Infrastructure;
using PublishingPoint.Server.Tests.Security;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>What ingest does on its own time, on a fake clock: the grace before finalising, the idle limit.</summary>
public sealed class IngestClockTests
{
    [Fact]
    public async Task EncoderGoneWithoutMfra_PointStaysLiveForTheGrace_ThenBecomesVod()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:FinalizeGraceSeconds=10");
        var capture = await IsmvCapture.SixSecondsAsync();
        var withoutMfra = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/grace.isml/Streams(a)", withoutMfra)).Status);

        Assert.Equal("live", await IngestAuthenticationTests.StateAsync(server, "live/grace.isml"));
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal("live", await IngestAuthenticationTests.StateAsync(server, "live/grace.isml"));
        clock.Advance(TimeSpan.FromSeconds(2));
        await IngestAuthenticationTests.WaitForStateAsync(server, "live/grace.isml", "vod");
    }

    [Fact]
    public async Task EncoderSilentPastTheIdleLimit_Gets408_AndItsCompleteFragmentsStay()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:IngestIdleTimeoutSeconds=30", "--PublishingPoint:MinIngestBytesPerSecond=0");
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        await using var push = await HeldPush.StartAsync(server.BaseUrl, "/live/idle.isml/Streams(a)");
        await push.SendAsync(header);
        await push.SendAsync(fragments[0]);
        await push.SendAsync(fragments[1]);
        await Eventually.WaitUntilAsync(async () => (await server.Http.GetAsync("live/idle.isml/Manifest")).IsSuccessStatusCode, "nothing indexed");

        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal("live", await IngestAuthenticationTests.StateAsync(server, "live/idle.isml"));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(408, await push.ReadStatusAsync(TimeSpan.FromSeconds(10)));
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/idle.isml/Manifest");
        Assert.Single(manifest.ChunkTimes("video"));
        Assert.Single(manifest.ChunkTimes("audio"));
    }
}
