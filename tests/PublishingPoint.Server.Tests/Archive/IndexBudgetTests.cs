using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>
/// An archive kept for ever rolls into files of at most ArchiveFileMaxFragments fragments, and the whole index stays
/// within MaxIndexBytes: the oldest finished files leave it (and stop being served) but stay on disk, after a restart too.
/// </summary>
public sealed class IndexBudgetTests
{
    private const int Entries = 20;

    [Fact]
    public async Task ForeverArchive_PastTheBudget_ForgetsTheOldestFiles_KeepsThemOnDisk_AndStaysWithinAfterRestart()
    {
        var settings = new[]
        {
            "--PublishingPoint:ArchiveFileMaxFragments=3",
            "--PublishingPoint:MaxIndexBytes=" + (Entries * IndexBudget.EntryBytes).ToString(CultureInfo.InvariantCulture),
            "--PublishingPoint:FinalizeGraceSeconds=3600",
        };
        var capture = new LogCapture();
        var server = await RunningServer.StartAsync(null, services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(capture), settings);
        var data = server.DataPath;
        var folder = Path.Combine(data, "live", "budget.isml");
        try
        {
            // 40 s in 2 s fragments of video and of audio: 40 entries, twice the budget.
            var pushed = await IsmvCapture.MakeAsync(40, 100, 32, 160, 90);
            var withoutEnd = pushed[..Boxes.TopLevel(pushed).Single(b => b.Type == "mfra").Offset];
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/budget.isml/Streams(a)", withoutEnd)).Status);

            var files = Directory.GetFiles(folder, "*.ismv");
            Assert.Equal(7, files.Length); // 3 video fragments a file: 6 s each, the last 4 s
            double onDisk = 0;
            foreach (var file in files)
            {
                onDisk += double.Parse(await Tool.ProbeAsync(file, "-show_entries", "format=duration", "-of", "csv=p=0"), CultureInfo.InvariantCulture);
            }

            Assert.InRange(onDisk, 39, 41);
            var indexed = IndexedFragments(server, "live/budget.isml");
            Assert.InRange(indexed, 8, Entries + 4); // within the budget after the last rollover, plus the open file's 2 + 2
            var playlist = await server.Http.GetStringAsync("live/budget.isml/hls/video-100000.m3u8");
            Assert.True(HlsText.LongTag(playlist, "#EXT-X-MEDIA-SEQUENCE") >= 9, playlist);
            Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("live/budget.isml/hls/video-100000/0.ts")).StatusCode);
            Assert.Contains(capture.Entries, e => e.Message.Contains("left the index", StringComparison.Ordinal) && e.Message.Contains("a.ismv", StringComparison.Ordinal));
        }
        finally
        {
            await server.DisposeAsync();
        }

        // A restart reads every file, newest last, and forgets the oldest again as it goes: the VOD is the newest part.
        await using var restarted = await RunningServer.StartAsync(data, settings);
        Assert.Equal(7, Directory.GetFiles(folder, "*.ismv").Length);
        Assert.InRange(IndexedFragments(restarted, "live/budget.isml"), 8, Entries);
        var manifest = await SmoothManifestView.FetchAsync(restarted.Http, "live/budget.isml/Manifest");
        var times = manifest.ChunkTimes("video");
        Assert.InRange(times.Length, 4, Entries / 2);
        Assert.Equal(380_000_000L, times[^1]);
    }

    [Fact]
    public async Task StreamWithoutKeyframes_RollsOverAtTwiceTheFragments_AndEveryFileIsServed()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:ArchiveFileMaxFragments=3", "--PublishingPoint:FinalizeGraceSeconds=0");
        // One keyframe, at the start: 12 fragments of 1 s, the first the only one a rollover on a keyframe could take.
        var pushed = await IsmvCapture.CaptureAsync(Encoder.SmoothPushBySecondArguments,
            new EncoderSettings { Seconds = 12, VideoKbps = 100, AudioKbps = 0, Width = 160, Height = 90, GopSeconds = 1000, RealTime = false });
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/nokey.isml/Streams(a)", pushed)).Status);

        Assert.Equal(["a.1.ismv", "a.ismv"], Directory.GetFiles(Path.Combine(server.DataPath, "live", "nokey.isml"), "*.ismv").Select(Path.GetFileName).Order());
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/nokey.isml/Manifest");
        Assert.Equal(12, manifest.ChunkTimes("video").Length);
    }

    [Fact]
    public async Task LowLatencyParts_CountTowardsTheFilesRollover()
    {
        // Twelve 2 s segments of ten 200 ms parts each, at most 6 fragments a file: each fragment's ten part layouts add
        // 1.8 entries' worth to the index, so a file takes 3 fragments, not 6 (a file's index is what a file still
        // being written keeps in memory, whatever the budget).
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:ArchiveFileMaxFragments=6", "--PublishingPoint:FinalizeGraceSeconds=0");
        var body = await IsmvCapture.CaptureAsync(Encoder.LowLatencyCmafPushArguments, new EncoderSettings { Seconds = 24, AudioKbps = 0, RealTime = false });
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "ll/roll.isml/Streams(a)", body)).Status);

        Assert.InRange(Directory.GetFiles(Path.Combine(server.DataPath, "ll", "roll.isml"), "*.ismv").Length, 3, 6);
        var track = server.Services.GetRequiredService<PointRegistry>().Find("ll/roll.isml")!.Tracks().Single();
        Assert.Equal(12, track.Count);
    }

    [Fact]
    public async Task LowLatencyParts_CountAgainstTheBudget()
    {
        // Twelve 2 s segments of 200 ms parts: the entries alone (12 x 136 bytes) fit the budget, with their parts they do not.
        var capture = new LogCapture();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(capture),
            "--PublishingPoint:ArchiveFileMaxFragments=3", "--PublishingPoint:MaxIndexBytes=" + (12 * IndexBudget.EntryBytes).ToString(CultureInfo.InvariantCulture));
        var body = await IsmvCapture.CaptureAsync(Encoder.LowLatencyCmafPushArguments, new EncoderSettings { Seconds = 24, AudioKbps = 0, RealTime = false });
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "ll/parts.isml/Streams(a)", body)).Status);

        var track = server.Services.GetRequiredService<PointRegistry>().Find("ll/parts.isml")!.Tracks().Single();
        Assert.True(track.PartsIndexed > track.Count, $"{track.PartsIndexed} parts for {track.Count} fragments");
        Assert.InRange(track.Count, 1, 11);
        Assert.Contains(capture.Entries, e => e.Message.Contains("left the index", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PastTheBudget_OnlyAPointOverItsShareForgets_NotASmallVodBesideALiveOneWithNothingFinished()
    {
        // A 6 s VOD and a 40 s live point in one file still open; the restart's budget is one entry short of both, and
        // the live point has nothing finished to forget.
        var vod = await IsmvCapture.MakeAsync(6, 100, 32, 160, 90);
        var live = await IsmvCapture.MakeAsync(40, 100, 32, 160, 90);
        var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var data = server.DataPath;
        long small, heavy;
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/small.isml/Streams(a)", vod)).Status);
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/heavy.isml/Streams(a)", live[..Boxes.TopLevel(live).Single(b => b.Type == "mfra").Offset])).Status);
            small = IndexedFragments(server, "live/small.isml");
            heavy = IndexedFragments(server, "live/heavy.isml");
            Assert.True(heavy > (small * 2) + 2, $"{small} and {heavy} entries");
        }
        finally
        {
            await server.DisposeAsync();
        }

        var capture = new LogCapture();
        await using var restarted = await RunningServer.StartAsync(data, services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(capture),
            "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:MaxIndexBytes=" + ((small + heavy - 1) * IndexBudget.EntryBytes).ToString(CultureInfo.InvariantCulture));
        Assert.DoesNotContain(capture.Entries, e => e.Message.Contains("left the index", StringComparison.Ordinal));
        Assert.Equal(small, IndexedFragments(restarted, "live/small.isml"));
        Assert.Equal(heavy, IndexedFragments(restarted, "live/heavy.isml"));
        var manifest = await SmoothManifestView.FetchAsync(restarted.Http, "live/small.isml/Manifest");
        Assert.NotEmpty(manifest.ChunkTimes("video"));
    }

    [Fact]
    public async Task ABudgetSmallerThanOneFile_KeepsTheNewestFile_AndEveryListedFragmentAnswers()
    {
        // 30 s in 6 s files of 3 video and 3 audio fragments; the budget is 4 entries, less than one file. The newest
        // file (whose fragments are each track's newest, which a track keeps listed) must stay, before and after a restart.
        var settings = new[]
        {
            "--PublishingPoint:ArchiveFileMaxFragments=3",
            "--PublishingPoint:MaxIndexBytes=" + (4 * IndexBudget.EntryBytes).ToString(CultureInfo.InvariantCulture),
        };
        var server = await RunningServer.StartAsync(null, settings);
        var data = server.DataPath;
        try
        {
            var pushed = await IsmvCapture.MakeAsync(30, 100, 32, 160, 90);
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/tiny.isml/Streams(a)", pushed)).Status);
            await EveryListedFragmentAnswersAsync(server);
        }
        finally
        {
            await server.DisposeAsync();
        }

        await using var restarted = await RunningServer.StartAsync(data, settings);
        await EveryListedFragmentAnswersAsync(restarted);
    }

    private static async Task EveryListedFragmentAnswersAsync(RunningServer server)
    {
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/tiny.isml/Manifest");
        var times = manifest.ChunkTimes("video");
        Assert.Equal(280_000_000L, times[^1]);
        var failed = new List<string>();
        foreach (var (type, bitrate) in new[] { ("video", 100_000), ("audio", 32_000) })
        {
            foreach (var time in manifest.ChunkTimes(type))
            {
                using var response = await server.Http.GetAsync(manifest.Url(type, bitrate, time));
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failed.Add($"{type}={time}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        }

        var playlist = await server.Http.GetStringAsync("live/tiny.isml/hls/video-100000.m3u8");
        Assert.Contains("#EXT-X-ENDLIST", playlist, StringComparison.Ordinal);
        var segments = HlsText.Segments(playlist);
        Assert.NotEmpty(segments);
        foreach (var (_, uri) in segments)
        {
            using var response = await server.Http.GetAsync("live/tiny.isml/hls/" + uri);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                failed.Add($"{uri}: {(int)response.StatusCode}");
            }
        }

        Assert.True(failed.Count == 0, string.Join("; ", failed));
    }

    private static long IndexedFragments(RunningServer server, string path) =>
        server.Services.GetRequiredService<PointRegistry>().Find(path)!.Tracks().Sum(t => (long)t.Count);
}
