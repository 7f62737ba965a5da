using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>A restart never destroys what was acknowledged: same limits as ingest, every readable fragment, nothing cut away.</summary>
public sealed class RecoveryTests
{
    [Fact]
    public async Task FragmentWithAMoofOver16Mb_AndEveryFragmentAfterIt_SurviveARestart()
    {
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        fragments[2] = Boxes.PadMoof(fragments[2], 17 * 1024 * 1024);
        var data = TempDirectory.Create("pp-bigmoof");
        int listed;
        await using (var server = await RunningServer.StartAsync(data))
        {
            var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/big.isml/Streams(a)", [.. header, .. fragments.SelectMany(f => f)]);
            Assert.True(status == HttpStatusCode.OK, text);
            listed = Count(await SmoothManifestView.FetchVodAsync(server.Http, "live/big.isml/Manifest"));
            Assert.Equal(fragments.Count, listed);
        }

        var before = new FileInfo(Path.Combine(data, "live", "big.isml", "a.ismv")).Length;
        await using var restarted = await RunningServer.StartAsync(data);
        Assert.Equal(listed, Count(await SmoothManifestView.FetchVodAsync(restarted.Http, "live/big.isml/Manifest")));
        Assert.Equal(before, new FileInfo(Path.Combine(data, "live", "big.isml", "a.ismv")).Length);
    }

    [Fact]
    public async Task TornTail_IsSetAsideWithEveryByte_AndTheCompleteFragmentsAreServed()
    {
        var (capture, data, folder, fifth) = await TornArchiveAsync("torn");

        await using var server = await RunningServer.StartAsync(data);
        Assert.Equal(4, Count(await SmoothManifestView.FetchVodAsync(server.Http, "live/torn.isml/Manifest")));
        var aside = Path.Combine(folder, $"enc1.ismv.torn-{fifth}");
        Assert.True(File.Exists(aside), string.Join(", ", Directory.GetFiles(folder)));
        Assert.Equal(capture[fifth..(fifth + 5000)], await File.ReadAllBytesAsync(aside));
    }

    /// <summary>
    /// When the torn tail cannot be copied aside (a full disk, here a folder in the way), the archive was left out of
    /// the index: its acknowledged fragments went unserved until a restart that could copy (a review's finding). The
    /// file is cut back all the same, and served.
    /// </summary>
    [Fact]
    public async Task TornTail_ThatCannotBeSetAside_IsDropped_AndTheCompleteFragmentsAreStillServed()
    {
        var (_, data, folder, fifth) = await TornArchiveAsync("noroom");
        Directory.CreateDirectory(Path.Combine(folder, $"enc1.ismv.torn-{fifth}"));

        await using var server = await RunningServer.StartAsync(data);
        Assert.Equal(4, Count(await SmoothManifestView.FetchVodAsync(server.Http, "live/noroom.isml/Manifest")));
        // Cut back at the tear, then finalised: its index follows the fourth fragment.
        var archive = await File.ReadAllBytesAsync(Path.Combine(folder, "enc1.ismv"));
        Assert.Equal("mfra", Boxes.TopLevel(archive).Single(b => b.Offset == fifth).Type);
    }

    [Fact]
    public async Task UnreadableFragment_IsSkipped_AndTheFragmentsAfterItAreServed()
    {
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var broken = (byte[])fragments[2].Clone();
        var tfhd = broken.AsSpan().IndexOf("tfhd"u8);
        "xxxx"u8.CopyTo(broken.AsSpan(tfhd)); // the 'traf' loses its 'tfhd': framed, but not readable
        var data = TempDirectory.Create("pp-unreadable");
        var folder = Path.Combine(data, "live", "skip.isml");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "enc1.ismv"), [.. header, .. fragments.Select((f, i) => i == 2 ? broken : f).SelectMany(f => f)]);

        await using var server = await RunningServer.StartAsync(data);
        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/skip.isml/Manifest");
        Assert.Equal(fragments.Count - 1, Count(manifest));
        var last = manifest.ChunkTimes("video")[^1];
        using var response = await server.Http.GetAsync(manifest.Url("video", 400000, last));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task UnreadableArchive_DoesNotCostThePointItsOtherArchives()
    {
        var data = TempDirectory.Create("pp-halfbad");
        await using (var server = await RunningServer.StartAsync(data))
        {
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/half.isml/Streams(good)", await IsmvCapture.SixSecondsAsync())).Status);
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/half.isml/Streams(bad)", await IsmvCapture.MakeAsync(4, 250, 0))).Status);
        }

        var bad = Path.Combine(data, "live", "half.isml", "bad.ismv");
        var bytes = await File.ReadAllBytesAsync(bad);
        var moov = Boxes.TopLevel(bytes).Single(b => b.Type == "moov");
        bytes.AsSpan(moov.Offset + 8, 64).Fill(0xEE); // its track header is garbage now
        await File.WriteAllBytesAsync(bad, bytes);

        await using var restarted = await RunningServer.StartAsync(data);
        var manifest = await SmoothManifestView.FetchVodAsync(restarted.Http, "live/half.isml/Manifest");
        Assert.Equal(3, manifest.ChunkTimes("video").Length);
        Assert.Equal(bytes.Length, new FileInfo(bad).Length); // left as it was, for an operator to look at
    }

    /// <summary>
    /// A damaged settings or timeline file in one point's folder (a disk error, a hand edit: README points operators at
    /// point.json) threw out of recovery and the server did not start: every point down (a review's finding). The
    /// point with a damaged timeline is served (its anchor falls back as for an archive without one); the one whose
    /// settings cannot be read is left on disk, logged, and the others are served.
    /// </summary>
    [Theory]
    [InlineData("point.json", "{ not json")]
    [InlineData("timeline.json", "{\"anchor\": 5}")]
    [InlineData("timeline.json", "garbage")]
    [InlineData("timeline.json", "{\"anchor\": \"9999-12-31T23:59:58Z\"}")] // what a bad 'prft' once left: every dated answer failed
    public async Task ADamagedFileInOnePointsFolder_DoesNotStopTheServer(string file, string content)
    {
        var data = TempDirectory.Create("pp-damaged");
        var capture = await IsmvCapture.SixSecondsAsync();
        await using (var server = await RunningServer.StartAsync(data))
        {
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/good.isml/Streams(a)", capture)).Status);
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/damaged.isml/Streams(a)", capture)).Status);
        }

        await File.WriteAllTextAsync(Path.Combine(data, "live", "damaged.isml", file), content);
        await using var restarted = await RunningServer.StartAsync(data);
        Assert.Equal(3, (await SmoothManifestView.FetchVodAsync(restarted.Http, "live/good.isml/Manifest")).ChunkTimes("video").Length);
        if (file == "timeline.json")
        {
            Assert.Equal(3, (await SmoothManifestView.FetchVodAsync(restarted.Http, "live/damaged.isml/Manifest")).ChunkTimes("video").Length);
            using var playlist = await restarted.Http.GetAsync("live/damaged.isml/hls/video-400000.m3u8");
            Assert.Equal(HttpStatusCode.OK, playlist.StatusCode);
        }
        else
        {
            // Not taken over by a new point with default settings (the damaged one may have had a secret of its own).
            Assert.Equal(HttpStatusCode.Conflict, (await Posting.PostChunkedAsync(restarted.Http, "live/damaged.isml/Streams(a)", capture)).Status);
        }
    }

    /// <summary>
    /// A clip was written straight into its own folder: a crash half way left a folder without 'mfra' that the next start
    /// recovered as a live point and finalised as a shorter clip, its path taken (a review's finding). It is written
    /// beside its place and renamed into it when complete; what a crash leaves there is removed at the next start.
    /// </summary>
    [Fact]
    public async Task AClipCutOffByACrash_IsNotRecoveredAsAPoint_AndIsRemoved()
    {
        var data = TempDirectory.Create("pp-clipcrash");
        var staging = Path.Combine(data, "clips", ".goal.isml.clip-0123456789abcdef");
        Directory.CreateDirectory(staging);
        var capture = await IsmvCapture.SixSecondsAsync();
        await File.WriteAllBytesAsync(Path.Combine(staging, "a.ismv"), capture[..Boxes.TopLevel(capture).Where(b => b.Type == "moof").ElementAt(2).Offset]);

        await using var server = await RunningServer.StartAsync(data);
        Assert.False(Directory.Exists(staging), "the unfinished clip is still there");
        using var points = await server.Http.GetAsync("api/points");
        Assert.DoesNotContain("goal", await points.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A delete cut off by a crash left part of the point's folder, which the next start brought back without its
    /// point.json (its own secret and settings). The folder is renamed aside before it is removed; what a crash leaves
    /// of it is removed at the next start, and the point stays deleted.
    /// </summary>
    [Fact]
    public async Task ADeleteCutOffByACrash_DoesNotBringThePointBack()
    {
        var data = TempDirectory.Create("pp-delcrash");
        var capture = await IsmvCapture.SixSecondsAsync();
        await using (var server = await RunningServer.StartAsync(data))
        {
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/gone.isml/Streams(a)", capture)).Status);
            using var deleted = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "api/points/live/gone.isml") { Headers = { { "X-Api-Key", "none is set: a non-simple request" } } });
            Assert.True(deleted.IsSuccessStatusCode, $"delete: {(int)deleted.StatusCode}");
            Assert.False(Directory.Exists(Path.Combine(data, "live", "gone.isml")));
            Assert.DoesNotContain(Directory.EnumerateDirectories(data, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }),
                d => d.Contains(".deleted-", StringComparison.Ordinal));
        }

        // What a crash after the rename leaves: the archive in a tombstone folder, its point.json already gone.
        var tombstone = Path.Combine(data, "live", ".gone.isml.deleted-0123456789abcdef");
        Directory.CreateDirectory(tombstone);
        await File.WriteAllBytesAsync(Path.Combine(tombstone, "a.ismv"), capture);
        await using var restarted = await RunningServer.StartAsync(data);
        Assert.False(Directory.Exists(tombstone), "the tombstone is still there");
        using var manifest = await restarted.Http.GetAsync("live/gone.isml/Manifest");
        Assert.Equal(HttpStatusCode.NotFound, manifest.StatusCode);
    }

    /// <summary>
    /// A box whose 64-bit size reaches past the end of the file wrapped the scanner's position below zero, and the
    /// exception that followed stopped the server's start: every point down for one flipped size field.
    /// </summary>
    [Fact]
    public async Task ABoxSizeThatWrapsAround_IsATornTail_AndTheServerStarts()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        var (data, folder) = PointFolder("wrap");
        var end = Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset;
        var box = new byte[32];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(box, 1);
        "free"u8.CopyTo(box.AsSpan(4));
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(box.AsSpan(8), long.MaxValue - 100);
        await File.WriteAllBytesAsync(Path.Combine(folder, "enc1.ismv"), [.. capture[..end], .. box]);

        await using var server = await RunningServer.StartAsync(data);
        Assert.Equal(Count(await SmoothManifestView.FetchVodAsync(server.Http, "live/wrap.isml/Manifest")), Boxes.TopLevel(capture).Count(b => b.Type == "moof"));
        Assert.Equal(box, await File.ReadAllBytesAsync(Path.Combine(folder, $"enc1.ismv.torn-{end}")));
    }

    /// <summary>
    /// Damage in the middle of a finished archive (a bad size field: bit rot, a zeroed sector) was taken for a crash's
    /// torn end: every fragment after it was cut off the file, and kept aside only if the disk had room for a copy (a
    /// review's finding). A finished file ends with its 'mfra', which lists where its fragments start: the scan goes on
    /// at the next one, and the file is left as it is.
    /// </summary>
    [Theory]
    [InlineData("moof", 0xFFFFFFF0u)] // past the end of the file
    [InlineData("moof", 0u)]
    [InlineData("mdat", 0u)] // 0 here: an 'mdat' that swallows the rest of the file but its last 100 bytes
    [InlineData("mdat", 20_000u)] // here: 20,000 bytes more, into the next fragment, still inside the file and MaxBoxBytes
    public async Task DamageInAFinishedArchive_SkipsToTheNextListedFragment_AndCutsNothing(string box, uint size)
    {
        var data = TempDirectory.Create("pp-rot");
        string[] settings = ["--PublishingPoint:MaxBoxBytes=65536", "--PublishingPoint:MaxIngestBytesPerConnection=1048576"];
        await using (var server = await RunningServer.StartAsync(data, settings))
        {
            var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/rot.isml/Streams(a)", await IsmvCapture.SixSecondsAsync());
            Assert.True(status == HttpStatusCode.OK, text);
            await SmoothManifestView.FetchVodAsync(server.Http, "live/rot.isml/Manifest"); // finished: the server's own 'mfra' ends the file
        }

        var path = Path.Combine(data, "live", "rot.isml", "a.ismv");
        var damaged = await File.ReadAllBytesAsync(path);
        var moofs = Boxes.TopLevel(damaged).Where(b => b.Type == "moof").ToList();
        var at = Boxes.TopLevel(damaged).Where(b => b.Type == box).ElementAt(2).Offset;
        var was = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(damaged.AsSpan(at));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(damaged.AsSpan(at), box != "mdat" ? size : size == 0 ? (uint)(damaged.Length - at - 100) : was + size);
        await File.WriteAllBytesAsync(path, damaged);

        await using var restarted = await RunningServer.StartAsync(data, settings);
        var manifest = await SmoothManifestView.FetchVodAsync(restarted.Http, "live/rot.isml/Manifest");
        Assert.Equal(moofs.Count - 1, Count(manifest));
        Assert.Equal(damaged, await File.ReadAllBytesAsync(path));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.torn-*"));
        using var response = await restarted.Http.GetAsync(manifest.Url("video", 400000, manifest.ChunkTimes("video")[^1]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>
    /// Recovery took any time and duration, where ingest refuses a fragment longer than MaxFragmentLeadSeconds: one
    /// flipped bit in a duration made a fragment last minutes, every later fragment of its track was then taken
    /// for one from the past and left out, and the encoder's next push was refused as far behind (a review's finding).
    /// Such a fragment is damage: skipped, and the ones after it are served.
    /// </summary>
    [Fact]
    public async Task AFragmentWithADurationIngestWouldRefuse_IsSkipped_AndTheFragmentsAfterItAreServed()
    {
        var data = TempDirectory.Create("pp-long");
        await using (var server = await RunningServer.StartAsync(data))
        {
            var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/long.isml/Streams(a)", await IsmvCapture.SixSecondsAsync());
            Assert.True(status == HttpStatusCode.OK, text);
            await SmoothManifestView.FetchVodAsync(server.Http, "live/long.isml/Manifest");
        }

        var path = Path.Combine(data, "live", "long.isml", "a.ismv");
        var damaged = await File.ReadAllBytesAsync(path);
        var moofs = Boxes.TopLevel(damaged).Where(b => b.Type == "moof").ToList();
        var video = moofs.Where(m => Boxes.TrackId(damaged, m.Offset) == 1).ToList();
        var end = Boxes.TopLevel(damaged).First(b => b.Offset > video[1].Offset && b.Type == "mdat");
        Boxes.SetTfxdDuration(damaged[video[1].Offset..(end.Offset + end.Size)], 6_000_000_000) // 600 s at 10 MHz, a flipped bit
            .CopyTo(damaged.AsSpan(video[1].Offset));
        await File.WriteAllBytesAsync(path, damaged);

        await using var restarted = await RunningServer.StartAsync(data);
        var manifest = await SmoothManifestView.FetchVodAsync(restarted.Http, "live/long.isml/Manifest");
        Assert.Equal(moofs.Count - 1, Count(manifest));
        Assert.InRange(manifest.ChunkTimes("video")[^1] / 1e7, 3, 6);
    }

    /// <summary>Bytes set aside after a second crash at the same offset go beside the first ones, not over them.</summary>
    [Fact]
    public async Task TornBytesSetAsideBefore_AreKept_WhenTheSameOffsetTearsAgain()
    {
        var (capture, data, folder, fifth) = await TornArchiveAsync("torn2");
        var earlier = Path.Combine(folder, $"enc1.ismv.torn-{fifth}");
        await File.WriteAllTextAsync(earlier, "set aside at the first crash");

        await using var server = await RunningServer.StartAsync(data);
        Assert.Equal(4, Count(await SmoothManifestView.FetchVodAsync(server.Http, "live/torn2.isml/Manifest")));
        Assert.Equal("set aside at the first crash", await File.ReadAllTextAsync(earlier));
        Assert.Equal(capture[fifth..(fifth + 5000)], await File.ReadAllBytesAsync(earlier + "-2"));
    }

    /// <summary>
    /// Two server processes on one data folder: the second read the first one's fragment being written as a torn end
    /// and cut it off while the first went on writing, leaving a hole that later starts stop at. The second start is
    /// refused, and the folder is free again once the first server stops.
    /// </summary>
    [Fact]
    public async Task ASecondServerOnTheSameDataFolder_IsRefused()
    {
        var data = TempDirectory.Create("pp-twice");
        await using (var first = await RunningServer.StartAsync(data))
        {
            var second = PublishingPoint.Server.Hosting.PublishingPointHosting.Create(["--urls=http://127.0.0.1:0", $"--PublishingPoint:DataPath={data}"]);
            await using (second)
            {
                var refused = await Assert.ThrowsAsync<PublishingPoint.Server.Points.DataFolderInUseException>(() => second.StartAsync());
                Assert.Contains("Another server process is using the data folder", refused.Message, StringComparison.Ordinal);
            }

            using var health = await first.Http.GetAsync("health/ready");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        await using var after = await RunningServer.StartAsync(data);
        using var ready = await after.Http.GetAsync("health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    /// <summary>
    /// The data folder was let go when the host stopped taking requests, before its archives were closed: a handler still
    /// writing (a stalled disk outlasts the shutdown timeout) and a second server started meanwhile were two writers of
    /// one archive (a review's finding). It is let go once the server is disposed, after its archives.
    /// </summary>
    [Fact]
    public async Task TheDataFolder_StaysLockedUntilTheServerIsDisposed_NotOnlyStopped()
    {
        var data = TempDirectory.Create("pp-stopped");
        string[] args = ["--urls=http://127.0.0.1:0", $"--PublishingPoint:DataPath={data}"];
        var first = PublishingPoint.Server.Hosting.PublishingPointHosting.Create(args);
        await first.StartAsync();
        await first.StopAsync();
        await using (var second = PublishingPoint.Server.Hosting.PublishingPointHosting.Create(args))
        {
            await Assert.ThrowsAsync<PublishingPoint.Server.Points.DataFolderInUseException>(() => second.StartAsync());
        }

        await first.DisposeAsync();
        await using var third = await RunningServer.StartAsync(data);
        using var ready = await third.Http.GetAsync("health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    /// <summary>A data folder with the folder of point live/{name}.isml in it, empty.</summary>
    private static (string Data, string Folder) PointFolder(string name)
    {
        var data = TempDirectory.Create("pp-" + name);
        var folder = Path.Combine(data, "live", name + ".isml");
        Directory.CreateDirectory(folder);
        return (data, folder);
    }

    /// <summary>Such a point with one archive cut off 5,000 bytes into its fifth fragment, as a crash mid-write leaves it.</summary>
    private static async Task<(byte[] Capture, string Data, string Folder, int Fifth)> TornArchiveAsync(string name)
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        var (data, folder) = PointFolder(name);
        var fifth = Boxes.TopLevel(capture).Where(b => b.Type == "moof").ElementAt(4).Offset;
        await File.WriteAllBytesAsync(Path.Combine(folder, "enc1.ismv"), capture[..(fifth + 5000)]);
        return (capture, data, folder, fifth);
    }

    private static int Count(SmoothManifestView manifest) => manifest.ChunkTimes("video").Length + manifest.ChunkTimes("audio").Length;
}
