using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>Archive rollover into self-contained files, an archive length that deletes the oldest, one VOD across files.</summary>
public sealed class RolloverTests
{
    [Fact]
    public async Task LongPush_RollsOverEveryTenSeconds_DeletesPastTheLength_AndServesOneVod()
    {
        var server = await RunningServer.StartAsync(null, "--PublishingPoint:ArchiveSegmentSeconds=10", "--PublishingPoint:ArchiveLengthSeconds=15",
            "--PublishingPoint:FinalizeGraceSeconds=3600");
        var data = server.DataPath;
        var folder = Path.Combine(data, "live", "roll.isml");
        try
        {
            var capture = await IsmvCapture.MakeAsync(40, 300, 64);
            var withoutEnd = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/roll.isml/Streams(a)", withoutEnd)).Status);

            // 0-10 s rolled into a.ismv and deleted (ended more than 15 s before the edge); 10-40 s in three files.
            Assert.Equal(["a.1.ismv", "a.2.ismv", "a.3.ismv"], Directory.GetFiles(folder, "*.ismv").Select(Path.GetFileName).Order());
            foreach (var file in new[] { "a.1.ismv", "a.2.ismv" })
            {
                var boxes = Boxes.TopLevel(await File.ReadAllBytesAsync(Path.Combine(folder, file)));
                Assert.Equal(["ftyp", "uuid", "moov"], boxes.Take(3).Select(b => b.Type));
                Assert.Equal("mfra", boxes[^1].Type);
                var seconds = double.Parse(await Tool.ProbeAsync(Path.Combine(folder, file), "-show_entries", "format=duration", "-of", "csv=p=0"), CultureInfo.InvariantCulture);
                Assert.InRange(seconds, 9, 11);
            }

            var playlist = await server.Http.GetStringAsync("live/roll.isml/hls/video-300000.m3u8");
            Assert.True(HlsText.LongTag(playlist, "#EXT-X-MEDIA-SEQUENCE") >= 5, playlist);
            Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("live/roll.isml/hls/video-300000/2.ts")).StatusCode);
        }
        finally
        {
            await server.DisposeAsync();
        }

        // After a restart the remaining files are one VOD: 30 s, segments keep no gap, numbered from the first kept one.
        await using var restarted = await RunningServer.StartAsync(data, "--PublishingPoint:ArchiveSegmentSeconds=10", "--PublishingPoint:ArchiveLengthSeconds=15");
        var manifest = await SmoothManifestView.FetchAsync(restarted.Http, "live/roll.isml/Manifest");
        Assert.False(manifest.IsLive);
        Assert.Equal(15, manifest.ChunkTimes("video").Length);
        Assert.Equal(100_000_000L, manifest.ChunkTimes("video")[0]);
        var pulled = Path.Combine(TempDirectory.Create("pp-roll"), "vod.ts");
        var copy = await Tool.RunAsync("ffmpeg", ["-v", "error", "-i", restarted.Url("live/roll.isml/master.m3u8").ToString(), "-c", "copy", pulled]);
        Assert.True(copy.ExitCode == 0 && copy.StdErr.Length == 0, Tool.Describe(copy));
        var duration = double.Parse(await Tool.ProbeAsync(pulled, "-show_entries", "format=duration", "-of", "csv=p=0"), CultureInfo.InvariantCulture);
        Assert.InRange(duration, 29, 31);
    }

    [Fact]
    public async Task RedundantEncodersInterleaved_PrunedPastTheLength_LeaveNoEntryIntoADeletedFile()
    {
        // a sends 0-10 s, b 0-20 s (10-20 new), a 0-70 s: a.ismv holds 0-10 and 20-30 s around b.ismv's 10-20 s, then
        // rolls at 30 and 60. At 60, a.ismv ended more than 25 s before the edge and is deleted (b.ismv is still b's file).
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:ArchiveSegmentSeconds=30", "--PublishingPoint:ArchiveLengthSeconds=25",
            "--PublishingPoint:FinalizeGraceSeconds=3600");
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(70, 100, 32, 160, 90));
        foreach (var (stream, seconds) in new[] { ("a", 10), ("b", 20), ("a", 70) })
        {
            var body = header.Concat(fragments.Where(f => Boxes.TfxdTime(f) < seconds * 10_000_000L).SelectMany(f => f)).ToArray();
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"live/twins.isml/Streams({stream})", body)).Status);
        }

        Assert.Equal(["a.1.ismv", "a.2.ismv", "b.ismv"], Directory.GetFiles(Path.Combine(server.DataPath, "live", "twins.isml"), "*.ismv").Select(Path.GetFileName).Order());
        var fetched = await Reliability.PlayerCrawl.RunAsync(server.Http, "live/twins.isml", perList: 100);
        Assert.All(fetched, f => Assert.True(f.Status == HttpStatusCode.OK && f.Error is null, $"{f.Url}: {(int)f.Status} {f.Error}"));
        var playlist = await server.Http.GetStringAsync("live/twins.isml/hls/video-100000.m3u8");
        Assert.Equal(15, HlsText.LongTag(playlist, "#EXT-X-MEDIA-SEQUENCE")); // from 30 s: nothing before the deleted file's end
    }

    [Fact]
    public async Task Restart_IndexesEveryRolledFile_InTheOrderOfTheirMedia()
    {
        // a.ismv, a.1.ismv ... a.11.ismv: by name a.10 comes before a.2 and a.ismv last; the index must follow the media.
        var server = await RunningServer.StartAsync(null, "--PublishingPoint:ArchiveSegmentSeconds=10", "--PublishingPoint:FinalizeGraceSeconds=0");
        var data = server.DataPath;
        try
        {
            var capture = await IsmvCapture.MakeAsync(120, 100, 32, 160, 90);
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/order.isml/Streams(a)", capture)).Status);
            Assert.Equal(12, Directory.GetFiles(Path.Combine(data, "live", "order.isml"), "*.ismv").Length);
        }
        finally
        {
            await server.DisposeAsync();
        }

        await using var restarted = await RunningServer.StartAsync(data, "--PublishingPoint:ArchiveSegmentSeconds=10");
        var manifest = await SmoothManifestView.FetchAsync(restarted.Http, "live/order.isml/Manifest");
        Assert.False(manifest.IsLive);
        var times = manifest.ChunkTimes("video");
        Assert.Equal(60, times.Length);
        Assert.Equal(0L, times[0]);
        Assert.Equal(1_180_000_000L, times[^1]);
    }
    /// <summary>
    /// Retention measured every archive from the point's edge, the newest media of any track: a second stream (anyone
    /// with the point's secret) could chain fragments ahead, each within MaxFragmentLeadSeconds of the last, move that
    /// edge minutes ahead and have the other streams' finished archives deleted at its next rollover (a review's
    /// finding). Each archive is measured from the edge of its own tracks.
    /// </summary>
    [Fact]
    public async Task AStreamRacingAhead_DoesNotDeleteTheOtherStreamsArchives()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:ArchiveSegmentSeconds=10", "--PublishingPoint:ArchiveLengthSeconds=15",
            "--PublishingPoint:FinalizeGraceSeconds=3600");
        var folder = Path.Combine(server.DataPath, "live", "race.isml");
        var capture = await IsmvCapture.MakeAsync(30, 300, 64);
        var withoutEnd = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/race.isml/Streams(a)", withoutEnd)).Status);
        string[] Kept() => [.. Directory.GetFiles(folder, "a*.ismv").Select(Path.GetFileName).Order()!];
        Assert.Contains("a.1.ismv", Kept()); // 10 to 20 s: within 15 s of its stream's edge (30 s)

        // Another track (video at 250 kbit/s), its media 50 s ahead of the edge (within the 60 s lead), 30 s of it.
        var other = IsmvCapture.Later(IsmvCapture.WithoutEnd(await IsmvCapture.MakeAsync(30, 250, 0)), 800_000_000);

        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/race.isml/Streams(x)", other)).Status);
        Assert.NotEmpty(Directory.GetFiles(folder, "x*.ismv"));
        Assert.Equal(["a.1.ismv", "a.2.ismv"], Kept()); // a.ismv (0 to 10 s) goes by its own stream's edge, at the first prune
    }
}
