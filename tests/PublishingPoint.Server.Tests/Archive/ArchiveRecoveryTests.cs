using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>What is on disk survives: a crash mid-write, a restart, an encoder that reconnects.</summary>
public sealed class ArchiveRecoveryTests
{
    /// <summary>
    /// A restart on reconnect moves the finished presentation into previous-N file by file. A review found that a crash
    /// between two files left part of it on top, to come back at the next start as the point (and be published over
    /// the complete one in the store), the rest in previous-N. The start now finishes such a move.
    /// </summary>
    [Fact]
    public async Task ARestartOnReconnect_CutOffMidMove_IsFinishedAtTheNextStart()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        var server = await RunningServer.StartAsync();
        var data = server.DataPath;
        var folder = Path.Combine(data, "live", "again.isml");
        try
        {
            using var created = await server.Http.PostAsync("api/points", System.Net.Http.Json.JsonContent.Create(new { path = "live/again.isml", restartOnReconnect = true }));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            for (var push = 0; push < 2; push++)
            {
                var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/again.isml/Streams(a)", capture);
                Assert.True(status == HttpStatusCode.OK, body);
                await Eventually.WaitUntilAsync(() => server.Services.GetRequiredService<PointRegistry>().Find("live/again.isml")?.State == PointState.Vod, "not finalised");
            }

            // The first presentation moved whole, and the move's marker is gone.
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(folder, "previous-1"), "*.ismv"));
            Assert.Empty(Directory.GetFiles(Path.Combine(folder, "previous-1"), ".moving"));
        }
        finally
        {
            await server.DisposeAsync();
        }

        // The second restart, as a crash leaves it: its marker written, one archive moved, the rest still on top.
        var on = Directory.GetFiles(folder).Where(f => Path.GetFileName(f) != "point.json").ToArray();
        Assert.Contains(on, f => f.EndsWith(".ismv", StringComparison.Ordinal));
        var previous = Directory.CreateDirectory(Path.Combine(folder, "previous-2")).FullName;
        File.WriteAllBytes(Path.Combine(previous, ".moving"), []);
        var first = on.First(f => f.EndsWith(".ismv", StringComparison.Ordinal));
        File.Move(first, Path.Combine(previous, Path.GetFileName(first)));

        await using var restarted = await RunningServer.StartAsync(data);
        Assert.Equal("point.json", Path.GetFileName(Assert.Single(Directory.GetFiles(folder))));
        Assert.Equal(on.Select(Path.GetFileName).Order(StringComparer.Ordinal), Directory.GetFiles(previous).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(restarted.Services.GetRequiredService<PointRegistry>().Find("live/again.isml")?.Archives() ?? []);
        var (again, text) = await Posting.PostChunkedAsync(restarted.Http, "live/again.isml/Streams(a)", capture);
        Assert.True(again == HttpStatusCode.OK, text);
    }

    /// <summary>
    /// A move into previous-N that failed part way (an I/O error) leaves its marker, and the encoder's retry restarts the
    /// point again: that move is finished, not left for the next start to finish over the new presentation's files (a
    /// review's finding on the marker above).
    /// </summary>
    [Fact]
    public async Task ARestartOnReconnect_AfterAMoveThatFailedPartWay_FinishesThatMove()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        await using var server = await RunningServer.StartAsync();
        var folder = Path.Combine(server.DataPath, "live", "retry.isml");
        using var created = await server.Http.PostAsync("api/points", System.Net.Http.Json.JsonContent.Create(new { path = "live/retry.isml", restartOnReconnect = true }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/retry.isml/Streams(a)", capture);
        Assert.True(status == HttpStatusCode.OK, body);
        await Eventually.WaitUntilAsync(() => server.Services.GetRequiredService<PointRegistry>().Find("live/retry.isml")?.State == PointState.Vod, "not finalised");

        var old = Directory.GetFiles(folder).Where(f => Path.GetFileName(f) != "point.json").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        var previous = Directory.CreateDirectory(Path.Combine(folder, "previous-1")).FullName;
        File.WriteAllBytes(Path.Combine(previous, ".moving"), []);
        var first = old.First(f => f!.EndsWith(".ismv", StringComparison.Ordinal))!;
        File.Move(Path.Combine(folder, first), Path.Combine(previous, first));

        (status, body) = await Posting.PostChunkedAsync(server.Http, "live/retry.isml/Streams(a)", capture);
        Assert.True(status == HttpStatusCode.OK, body);
        Assert.False(Directory.Exists(Path.Combine(folder, "previous-2")), "the retry started another previous-N");
        Assert.Equal(old, Directory.GetFiles(previous).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RedundantEncoders_InterleavedOverTheirFiles_AreIndexedWhole_AfterARestart()
    {
        // Two stream ids feed the same tracks (redundant encoders): each fragment goes to the file of whichever sent it
        // first. Encoder a sends 0-10 s, b 0-20 s (10-20 s new), a again 0-40 s (20-40 s new): a.ismv holds 0-10 and
        // 20-40 s, b.ismv 10-20 s.
        var settings = new[] { "--PublishingPoint:FinalizeGraceSeconds=3600" };
        var server = await RunningServer.StartAsync(null, settings);
        var data = server.DataPath;
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(40, 100, 32, 160, 90));
        long[] before;
        try
        {
            foreach (var (stream, seconds) in new[] { ("a", 10), ("b", 20), ("a", 40) })
            {
                var body = header.Concat(fragments.Where(f => Boxes.TfxdTime(f) < seconds * 10_000_000L).SelectMany(f => f)).ToArray();
                Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"live/twin.isml/Streams({stream})", body)).Status);
            }

            before = (await SmoothManifestView.FetchAsync(server.Http, "live/twin.isml/Manifest")).ChunkTimes("video");
            Assert.Equal(20, before.Length);
        }
        finally
        {
            await server.DisposeAsync();
        }

        await using var restarted = await RunningServer.StartAsync(data, settings);
        Assert.Equal(before, (await SmoothManifestView.FetchAsync(restarted.Http, "live/twin.isml/Manifest")).ChunkTimes("video"));
    }

    [Fact]
    public async Task ArchiveCutOffMidFragment_IsServedUpToItsLastCompleteFragment_AfterStart()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        var data = TempDirectory.Create("pp-crash");
        var folder = Path.Combine(data, "live", "crash.isml");
        Directory.CreateDirectory(folder);
        var moofs = Boxes.TopLevel(capture).Where(b => b.Type == "moof").ToList();
        var archive = Path.Combine(folder, "enc1.ismv");
        // What a kill -9 in the middle of writing the fifth fragment leaves behind.
        await File.WriteAllBytesAsync(archive, capture[..(moofs[4].Offset + 100)]);

        await using var server = await RunningServer.StartAsync(data);
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/crash.isml/Manifest");
        Assert.False(manifest.IsLive);
        Assert.Equal(4, manifest.ChunkTimes("video").Length + manifest.ChunkTimes("audio").Length);
        foreach (var type in new[] { "video", "audio" })
        {
            foreach (var time in manifest.ChunkTimes(type))
            {
                using var response = await server.Http.GetAsync(manifest.Url(type, type == "video" ? 400000 : 64000, time));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        // The torn tail is gone and the archive now ends with a real index that ffprobe reads.
        var boxes = Boxes.TopLevel(await File.ReadAllBytesAsync(archive));
        Assert.Equal(["ftyp", "uuid", "moov", "moof", "mdat", "moof", "mdat", "moof", "mdat", "moof", "mdat", "mfra"], boxes.Select(b => b.Type));
        var duration = await Tool.ProbeAsync(archive, "-show_entries", "format=duration", "-of", "csv=p=0");
        Assert.InRange(double.Parse(duration, CultureInfo.InvariantCulture), 3.5, 4.5);
        Assert.True(File.Exists(Path.Combine(folder, "crash.ismc")));
    }

    [Fact]
    public async Task EncoderReconnects_ContinuesThePointInTheSameArchive_WithoutDuplicates()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        var moofs = Boxes.TopLevel(capture).Where(b => b.Type == "moof").ToList();
        var (first, _) = await Posting.PostChunkedAsync(server.Http, "live/re.isml/Streams(enc1)", capture[..moofs[3].Offset]);
        Assert.Equal(HttpStatusCode.OK, first);
        var partial = await SmoothManifestView.FetchAsync(server.Http, "live/re.isml/Manifest");
        Assert.False(partial.IsLive);
        Assert.Equal(2, partial.ChunkTimes("video").Length);

        // The encoder comes back and replays from the start, as many do after a network cut.
        var (second, _) = await Posting.PostChunkedAsync(server.Http, "live/re.isml/Streams(enc1)", capture);
        Assert.Equal(HttpStatusCode.OK, second);
        var full = await SmoothManifestView.FetchAsync(server.Http, "live/re.isml/Manifest");
        Assert.Equal(moofs.Count, full.ChunkTimes("video").Length + full.ChunkTimes("audio").Length);
        Assert.Equal(partial.ChunkTimes("video"), full.ChunkTimes("video")[..2]);

        var folder = Path.Combine(server.DataPath, "live", "re.isml");
        Assert.Equal(["enc1.ismv"], Directory.GetFiles(folder, "*.ismv").Select(Path.GetFileName));
        var boxes = Boxes.TopLevel(await File.ReadAllBytesAsync(Path.Combine(folder, "enc1.ismv")));
        Assert.Equal(moofs.Count, boxes.Count(b => b.Type == "moof"));
        Assert.Equal(1, boxes.Count(b => b.Type == "mfra"));
        Assert.Equal("mfra", boxes[^1].Type);
        var duration = await Tool.ProbeAsync(Path.Combine(folder, "enc1.ismv"), "-show_entries", "format=duration", "-of", "csv=p=0");
        Assert.InRange(double.Parse(duration, CultureInfo.InvariantCulture), 5.5, 6.5);
    }

    /// <summary>
    /// Finalising can fail (a full or failing disk while the 'mfra' or the manifests are written). The encoder that ended
    /// its stream got a 500 for it, nothing was logged when it came from the grace timer, and one failed archive kept the
    /// others from being sealed. Now the ending is answered 200, the failure is logged, the point is served as VOD from
    /// its index, and the next start (with a working disk) finalises it.
    /// </summary>
    [Fact]
    public async Task AFailedFinalisation_IsLogged_TheEncoderIsAnswered200_AndTheNextStartFinalises()
    {
        var data = TempDirectory.Create("pp-finfail");
        var log = new LogCapture(LogLevel.Error);
        var capture = await IsmvCapture.SixSecondsAsync();
        await using (var server = await RunningServer.StartAsync(data, services =>
        {
            services.AddSingleton<ILoggerProvider>(log);
            services.AddSingleton<IPointFinalizer>(new FailingFinalizer());
        }))
        {
            var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/fin.isml/Streams(a)", capture);
            Assert.True(status == HttpStatusCode.OK, text);
            Assert.Equal(3, (await SmoothManifestView.FetchVodAsync(server.Http, "live/fin.isml/Manifest")).ChunkTimes("video").Length);
            Assert.Contains(log.Entries, e => e.Message.Contains("live/fin.isml", StringComparison.Ordinal)
                && e.Message.Contains("writing its archive indexes or VOD manifests failed", StringComparison.Ordinal) && e.Exception is IOException);
        }

        var archive = Path.Combine(data, "live", "fin.isml", "a.ismv");
        Assert.NotEqual("mfra", Boxes.TopLevel(await File.ReadAllBytesAsync(archive))[^1].Type);
        await using var restarted = await RunningServer.StartAsync(data);
        Assert.Equal(3, (await SmoothManifestView.FetchVodAsync(restarted.Http, "live/fin.isml/Manifest")).ChunkTimes("video").Length);
        Assert.Equal("mfra", Boxes.TopLevel(await File.ReadAllBytesAsync(archive))[^1].Type);
    }

    private sealed class FailingFinalizer : IPointFinalizer
    {
        public void Write(Point point) => throw new IOException("No space left on device (a test's disk)");

        public PointManifests SnapshotManifests(Point point) => throw new IOException("No space left on device (a test's disk)");
    }
}
