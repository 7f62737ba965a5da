using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Smooth;

public sealed class DvrWindowTests
{
    private const long Second = 10_000_000;

    [Fact]
    public async Task LongPush_LiveManifestListsTheWindow_OlderFragmentsLeaveMemoryButStayServed()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:FinalizeGraceSeconds=60");
        var capture = await IsmvCapture.MakeAsync(30, 400, 64);
        var withoutEnd = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        var (status, _) = await Posting.PostChunkedAsync(server.Http, "live/dvr.isml/Streams(a)", withoutEnd);
        Assert.Equal(HttpStatusCode.OK, status);

        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/dvr.isml/Manifest");
        Assert.True(manifest.IsLive);
        Assert.Equal("100000000", (string?)manifest.Root.Attribute("DVRWindowLength"));
        var times = manifest.ChunkTimes("video");
        Assert.InRange(times[0], 18 * Second, 22 * Second);
        Assert.InRange(manifest.ChunkDurations("video").Sum(), 8 * Second, 12 * Second);

        var registry = server.Services.GetRequiredService<PointRegistry>();
        Assert.True(PointPath.TryParse("live/dvr.isml", out var path, out _));
        var video = registry.Find(path!)!.FindTrack(new TrackKey("video", 400000))!.Snapshot();
        Assert.Equal(15, video.Length);
        // The default memory window: the newest fragment alone keeps its bytes.
        Assert.All(video[..^1], f => Assert.False(f.IsInMemory));
        Assert.True(video[^1].IsInMemory);

        // Out of the window and out of memory, still served from the archive (start-over, catch-up).
        using var old = await server.Http.GetAsync(manifest.Url("video", 400000, 0));
        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        Assert.Equal(["moof", "mdat"], Boxes.TopLevel(await old.Content.ReadAsByteArrayAsync()).Select(b => b.Type));
    }

    [Fact]
    public async Task LegacyIsmUrl_TakesTheStreamIdFromTheQuery()
    {
        await using var server = await RunningServer.StartAsync();
        var (status, _) = await Posting.PostChunkedAsync(server.Http, "live/old.isml/old.ism?stream_id=enc9", await IsmvCapture.SixSecondsAsync());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(File.Exists(Path.Combine(server.DataPath, "live", "old.isml", "enc9.ismv")));
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/old.isml/Manifest");
        Assert.Equal(3, manifest.ChunkTimes("video").Length);
    }
}
