using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>What a held playlist request sees when it wakes.</summary>
public sealed class BlockingReloadOrderTests
{
    /// <summary>
    /// A track woke the requests waiting for its next part or segment before its point's version moved (ingest moved it
    /// afterwards, after the prune of a rollover for a segment): a woken blocking reload found the part listed and took
    /// the point's cached playlist of the version before, without that part, and answered it with max-age 60 on the
    /// URL the player asks again (a review's finding: a stall for everyone behind a CDN). The version moves first now.
    /// </summary>
    [Fact]
    public async Task ATrackWakesItsWaiters_OnlyAfterItsPointsVersionMoved()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var capture = await IsmvCapture.SixSecondsAsync();
        var live = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/wake.isml/Streams(a)", live)).Status);
        Assert.True(PointPath.TryParse("live/wake.isml", out var path, out var error), error);
        var point = server.Services.GetRequiredService<PointRegistry>().Find(path)!;
        var track = point.Tracks().First(t => t.Description.Kind == TrackKind.Video);
        var last = track.Newest(1)[0];
        var traf = new PublishingPoint.Media.IsoBmff.TrackFragment { TrackId = 1, TrafOffset = 0, SampleCount = last.SampleCount, SummedDuration = last.Duration, DataSize = 0, DataOffset = 0, FirstSampleIsSync = true };

        var before = point.Version;
        var woke = track.Changed.ContinueWith(_ => point.Version, TaskScheduler.Default);
        track.Append(new FragmentEntry(last.End, last.Duration, traf, last.Samples, last.Archive, last.ArchiveOffset, last.Length, null), long.MaxValue);
        Assert.True(await woke > before, "the waiter woke to the version before the new segment");
    }
}
