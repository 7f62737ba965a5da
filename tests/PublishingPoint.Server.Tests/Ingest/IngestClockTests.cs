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
        // The idle limit counts from the read that waits for the next byte. On a loaded machine that read may start only
        // after the clock moved (the fragment is indexed, and the manifest lists it, before the connection is read
        // again): then its limit ends a full limit after it started, and the clock is moved on while no answer came.
        var status = push.ReadStatusAsync(TimeSpan.FromSeconds(20));
        await Eventually.WaitUntilAsync(
            () =>
            {
                if (status.IsCompleted)
                {
                    return true;
                }

                clock.Advance(TimeSpan.FromSeconds(30));
                return false;
            },
            "no answer to the silent encoder",
            TimeSpan.FromSeconds(15));
        Assert.Equal(408, await status);
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/idle.isml/Manifest");
        Assert.Single(manifest.ChunkTimes("video"));
        Assert.Single(manifest.ChunkTimes("audio"));
    }
}
