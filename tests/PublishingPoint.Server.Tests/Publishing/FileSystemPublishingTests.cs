using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Publishing;

/// <summary>The embedded default target: a folder for nginx or any static web server.</summary>
public sealed class FileSystemPublishingTests
{
    [Fact]
    public async Task FolderGetsEveryFormat_AndTheVodPlaysFromFiles()
    {
        var folder = TempDirectory.Create("pp-www");
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={folder}");
        const string Point = "events/fs.isml";
        var push = await Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = 8, RealTime = false });
        Assert.Equal(0, push.ExitCode);

        var media = await VodFilesAsync(server.DataPath, folder, Point);
        foreach (var (key, text) in media)
        {
            var numbers = BucketReader.Numbers(text);
            Assert.Equal(Enumerable.Range(0, numbers.Length).Select(n => (long)n), numbers);
            var dir = Path.GetDirectoryName(Path.Combine(folder, key))!;
            Assert.All(HlsText.Segments(text), s => Assert.True(File.Exists(Path.Combine(dir, s.Uri)), s.Uri));
            Assert.Equal(await server.Http.GetStringAsync($"{Point}/{key[(Point.Length + 1)..]}"), text);
        }

        Assert.True(File.Exists(Path.Combine(folder, Point, "master-fmp4.m3u8")));
        Assert.Contains("type=\"static\"", await File.ReadAllTextAsync(Path.Combine(folder, Point, "manifest.mpd")), StringComparison.Ordinal);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(folder, Point, "hls"), "init.mp4", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories));

        // Played from the files alone.
        var ts = media.First(m => !m.Key.EndsWith("-fmp4.m3u8", StringComparison.Ordinal)).Key;
        var output = Path.Combine(TempDirectory.Create("fs-play"), "copy.mp4");
        await Tool.RunCheckedAsync("ffmpeg", ["-v", "error", "-i", Path.Combine(folder, ts), "-c", "copy", output], TimeSpan.FromSeconds(60));
        var duration = double.Parse((await Tool.ProbeAsync(output, "-show_entries", "format=duration", "-of", "csv=p=0")).Trim(), CultureInfo.InvariantCulture);
        Assert.InRange(duration, 8 - 2.1, 8 + 2.1);
    }

    /// <summary>
    /// The store holds segments under their numbers only, so its static MPD names them by $Number$, which counts on from
    /// startNumber: across an encoder's outage (a gap in the numbering) it listed only the run after the gap, and the
    /// event's start was gone from the store's VOD. Now each stretch the encoder fed is a Period with its own
    /// startNumber; dash.js plays the whole event from the folder (as a CDN in front of it would serve it).
    /// </summary>
    [Fact]
    public async Task TheStoresStaticMpd_ListsTheRunBeforeAnOutageToo_AndDashJsPlaysItFromTheFolder()
    {
        var folder = TempDirectory.Create("pp-www");
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={folder}");
        const string Point = "events/outage.isml";
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        const long Outage = 30L * 10_000_000; // 30 s on the ismv clock (10 MHz)
        byte[] body = [.. header, .. fragments.Take(2).SelectMany(f => f), .. fragments.Skip(2).SelectMany(f => Boxes.ShiftTfxd(f, Outage))];
        var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", body);
        Assert.True(status == System.Net.HttpStatusCode.OK, text);
        await VodFilesAsync(server.DataPath, folder, Point);

        var mpd = PublishingPoint.Server.Tests.Dash.MpdView.Parse(await File.ReadAllTextAsync(Path.Combine(folder, Point, "manifest.mpd")));
        Assert.False(mpd.IsDynamic);
        Assert.Equal(2, mpd.Periods.Count);
        Assert.Equal([[0], [16, 17]], mpd.Periods.Select(p => Assert.Single(p.Video).Segments.Select(s => s.Number).ToArray()));
        foreach (var representation in mpd.Video.Concat(mpd.Audio))
        {
            Assert.True(File.Exists(Path.Combine(folder, Point, representation.InitializationUrl)), representation.InitializationUrl);
            Assert.All(representation.Segments, s => Assert.True(File.Exists(Path.Combine(folder, Point, representation.MediaUrl(s))), representation.MediaUrl(s)));
        }

        var played = await PublishingPoint.Server.Tests.Dash.DashJsPlayback.PlayAsync($"{Point}/manifest.mpd", until: 5.5, folder);
        Assert.True(played.Time >= 5.5 && played.Errors.Length == 0, played.Describe);
        Assert.All(mpd.Video, v => Assert.All(v.Segments, s => Assert.Contains(played.Requested, r => r.EndsWith("/" + v.MediaUrl(s), StringComparison.Ordinal))));
    }

    /// <summary>
    /// Windowed publishing keeps only the last window in the store, and the final static MPD lists only that, but its
    /// timing was the whole event's: period time 0 at the event's start and the event's duration, so a player started
    /// in front of the first segment the store still has (dash.js walks the empty lead-in; ffprobe reports it as the
    /// duration). It now starts at the first segment it lists.
    /// </summary>
    [Fact]
    public async Task WindowedLive_TheFinalMpdStartsAtTheWindowsFirstSegment_AndDashJsPlaysItFromTheFolder()
    {
        var folder = TempDirectory.Create("pp-www");
        await using var server = await RunningServer.StartAsync(null,
            "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={folder}",
            "--PublishingPoint:Publish:KeepSegmentsForVod=false");
        const string Point = "live/windowmpd.isml";
        var push = await Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = 20 });
        Assert.Equal(0, push.ExitCode);
        await VodFilesAsync(server.DataPath, folder, Point);

        var mpd = PublishingPoint.Server.Tests.Dash.MpdView.Parse(await File.ReadAllTextAsync(Path.Combine(folder, Point, "manifest.mpd")));
        Assert.False(mpd.IsDynamic);
        var video = Assert.Single(mpd.Video);
        Assert.True(video.Segments[0].Number > 0, "the window's segments only");
        Assert.InRange((double)(video.Segments[0].Time - video.PresentationTimeOffset) / video.Timescale, 0, 0.1);
        var listed = (double)video.Segments.Sum(s => s.Duration) / video.Timescale;
        Assert.InRange(mpd.Duration("mediaPresentationDuration")!.Value.TotalSeconds, listed - 0.3, listed + 0.3);
        Assert.All(mpd.Video.Concat(mpd.Audio), r => Assert.All(r.Segments, s => Assert.True(File.Exists(Path.Combine(folder, Point, r.MediaUrl(s))), r.MediaUrl(s))));

        var played = await PublishingPoint.Server.Tests.Dash.DashJsPlayback.PlayAsync($"{Point}/manifest.mpd", until: listed - 1, folder);
        Assert.True(played.Time >= listed - 1 && played.Errors.Length == 0, played.Describe);
    }

    [Fact]
    public async Task WindowedLive_DeletesSegmentsThatLeaveTheWindow_AndEndsOnTheLastWindow()
    {
        var folder = TempDirectory.Create("pp-www");
        await using var server = await RunningServer.StartAsync(null,
            "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={folder}",
            "--PublishingPoint:Publish:KeepSegmentsForVod=false", "--PublishingPoint:Publish:Formats:0=Hls");
        const string Point = "live/window.isml";
        var push = await Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = 20, AudioKbps = 0 });
        Assert.Equal(0, push.ExitCode);

        var media = await VodFilesAsync(server.DataPath, folder, Point);
        Assert.False(File.Exists(Path.Combine(folder, Point, "manifest.mpd")), "DASH was not asked for");
        foreach (var (key, text) in media)
        {
            var numbers = BucketReader.Numbers(text);
            Assert.True(numbers[0] > 0 && numbers.Length <= 8, $"{key} should list the last window only:\n{text}");
            Assert.Equal(Enumerable.Range((int)numbers[0], numbers.Length).Select(n => (long)n), numbers);
            Assert.Equal(numbers[0], HlsText.LongTag(text, "#EXT-X-MEDIA-SEQUENCE"));
            var dir = Path.GetDirectoryName(Path.Combine(folder, key))!;
            Assert.All(HlsText.Segments(text), s => Assert.True(File.Exists(Path.Combine(dir, s.Uri)), s.Uri));
            var rendition = Path.Combine(dir, HlsText.Segments(text)[0].Uri[..HlsText.Segments(text)[0].Uri.IndexOf('/', StringComparison.Ordinal)]);
            Assert.False(File.Exists(Path.Combine(rendition, "0.ts")) || File.Exists(Path.Combine(rendition, "0.m4s")), $"segment 0 should be deleted from {rendition}");
        }
    }

    /// <summary>A put a crash cut off leaves its temporary file, which nginx would list: the next start removes it.</summary>
    [Fact]
    public async Task TemporaryFilesACrashLeft_AreRemovedAtTheNextStart()
    {
        var folder = TempDirectory.Create("pp-www");
        var hls = Directory.CreateDirectory(Path.Combine(folder, "live", "x.isml", "hls", "video-400000")).FullName;
        var stale = Path.Combine(hls, $"3.ts.{Guid.NewGuid():N}.tmp");
        var fresh = Path.Combine(hls, $"4.ts.{Guid.NewGuid():N}.tmp");
        var someoneElses = Path.Combine(hls, "notes.tmp");
        foreach (var file in new[] { stale, fresh, someoneElses })
        {
            await File.WriteAllBytesAsync(file, [1, 2, 3]);
        }

        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2));
        File.SetLastWriteTimeUtc(someoneElses, DateTime.UtcNow.AddHours(-2));
        var store = new PublishingPoint.Server.Publishing.FileSystemObjectStore(folder);
        await store.Leftovers;
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh), "a temporary file of a put still running (another process's) is left");
        Assert.True(File.Exists(someoneElses));
    }

    /// <summary>
    /// A store that takes PUTs and refuses DELETEs (an S3 policy with s3:PutObject only). A review found each refused
    /// delete failed the whole pass, so the live playlists, put just before, were then refreshed at the backoff's pace
    /// (up to a pass every 30 s). The pass goes on now; the refusal is counted and logged once.
    /// </summary>
    [Fact]
    public async Task WindowedLive_AStoreThatRefusesDeletes_DoesNotFailThePasses()
    {
        var folder = TempDirectory.Create("pp-www");
        var store = new NoDeleteStore(new PublishingPoint.Server.Publishing.FileSystemObjectStore(folder));
        var log = new LogCapture();
        await using var server = await RunningServer.StartAsync(null,
            services =>
            {
                UseStore(services, store);
                Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(services, log);
            },
            "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={folder}",
            "--PublishingPoint:Publish:KeepSegmentsForVod=false", "--PublishingPoint:Publish:Formats:0=Hls");
        const string Point = "live/nodelete.isml";
        var push = await Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = 22, AudioKbps = 0 });
        Assert.Equal(0, push.ExitCode);

        var media = await VodFilesAsync(server.DataPath, folder, Point);
        var status = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Publishing.PublishStatus>(server.Services);
        Assert.True(store.Refused > 0, "no segment left the window");
        Assert.True(status.DeleteFailures > 0);
        Assert.Equal(0, status.Failures);
        Assert.Single(log.Entries, e => e.Message.Contains("refused a DELETE", StringComparison.Ordinal));
        // Nothing was deleted, so the final playlists list what the store still holds: every segment, each there.
        var (key, text) = media.First(m => m.Key.EndsWith("video-400000.m3u8", StringComparison.Ordinal));
        Assert.Equal(0, BucketReader.Numbers(text)[0]);
        Assert.All(HlsText.Segments(text), s => Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(Path.Combine(folder, key))!, s.Uri)), s.Uri));
    }

    private sealed class NoDeleteStore(PublishingPoint.Server.Publishing.IObjectStore inner) : PublishingPoint.Server.Publishing.IObjectStore
    {
        private int _refused;

        public int Refused => Volatile.Read(ref _refused);

        public string Description => inner.Description;

        public Task PutAsync(string key, ReadOnlyMemory<byte> bytes, string contentType, string cacheControl, CancellationToken cancellationToken) =>
            inner.PutAsync(key, bytes, contentType, cacheControl, cancellationToken);

        public Task DeleteAsync(string key, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _refused);
            throw new UnauthorizedAccessException($"AccessDenied: DELETE {key}");
        }
    }

    /// <summary>
    /// Windowed publishing across an encoder's outage of an hour: the numbers jump by 1,800. The store was sent a DELETE
    /// for every number of the gap, and its grace of two segments, counted in numbers, kept none of those before it.
    /// </summary>
    /// <remarks>With a short ArchiveLengthSeconds the segments before the outage leave the index before the pass that
    /// deletes them (the archive rolls over at the first keyframe after it, and is pruned): they are deleted as the
    /// numbers this process put, still not every number of the gap.</remarks>
    [Theory]
    [InlineData(0)]
    [InlineData(30)]
    public async Task WindowedLive_AcrossAnOutage_DeletesOnlySegmentsThatExist_AndKeepsTheGraceBeforeTheGap(int archiveLength)
    {
        var folder = TempDirectory.Create("pp-www");
        await using var server = await RunningServer.StartAsync(null,
            $"--PublishingPoint:ArchiveLengthSeconds={archiveLength}", $"--PublishingPoint:ArchiveSegmentSeconds={(archiveLength > 0 ? 10 : 0)}",
            // The hour passes in no time here: the lead bound (the live edge plus the wall-clock time since) lets it in.
            "--PublishingPoint:MaxFragmentLeadSeconds=86400",
            "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:Publish:Target=FileSystem",
            $"--PublishingPoint:Publish:Path={folder}", "--PublishingPoint:Publish:KeepSegmentsForVod=false", "--PublishingPoint:Publish:Formats:0=Hls");
        const string Point = "live/gap.isml";
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(12, 200, 0));
        Assert.Equal(6, fragments.Count); // video only, 2 s each
        var ts = Path.Combine(folder, Point, "hls", "video-200000");
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", [.. header, .. fragments.Take(4).SelectMany(f => f)])).Status);
        await Eventually.WaitUntilAsync(() => File.Exists(Path.Combine(ts, "2.ts")), "the segments before the outage never reached the folder", TimeSpan.FromSeconds(30));

        const long Outage = 3600L * 10_000_000; // an hour on the ismv clock (10 MHz): 1,800 segment numbers
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)",
            [.. header, .. fragments.Skip(4).SelectMany(f => Boxes.ShiftTfxd(f, Outage))])).Status);
        await Eventually.WaitUntilAsync(async () => (await server.Http.GetFromJsonAsync<JsonElement>("api/publish")).GetProperty("deletes").GetInt64() > 0,
            "nothing left the store after the outage", TimeSpan.FromSeconds(30));

        var playlist = await File.ReadAllTextAsync(Path.Combine(folder, Point, "hls", "video-200000.m3u8"));
        Assert.True(HlsText.LongTag(playlist, "#EXT-X-MEDIA-SEQUENCE") >= 1800, playlist);
        Assert.InRange((await server.Http.GetFromJsonAsync<JsonElement>("api/publish")).GetProperty("deletes").GetInt64(), 1, 8);
        if (archiveLength == 0)
        {
            Assert.True(File.Exists(Path.Combine(ts, "2.ts")), "the newest segment before the gap is within the grace");
        }

        Assert.False(File.Exists(Path.Combine(ts, "0.ts")), "the oldest is not");
    }

    /// <summary>
    /// The store's numbers put by the process before a restart, pruned from the archive meanwhile (a short
    /// ArchiveLengthSeconds and an outage): the next process does not know them from the index, nor from what it put
    /// itself, and left them in the store for good. It deletes those of the window the process before stopped at.
    /// </summary>
    [Fact]
    public async Task WindowedLive_AfterARestart_DeletesTheWindowTheProcessBeforePut_WhenTheArchiveWasPrunedMeanwhile()
    {
        var folder = TempDirectory.Create("pp-www");
        string[] settings =
        [
            "--PublishingPoint:ArchiveLengthSeconds=30", "--PublishingPoint:ArchiveSegmentSeconds=10", "--PublishingPoint:MaxFragmentLeadSeconds=86400",
            "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:Publish:Target=FileSystem",
            $"--PublishingPoint:Publish:Path={folder}", "--PublishingPoint:Publish:KeepSegmentsForVod=false", "--PublishingPoint:Publish:Formats:0=Hls",
        ];
        const string Point = "live/restartgap.isml";
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(12, 200, 0));
        var ts = Path.Combine(folder, Point, "hls", "video-200000");
        var first = await RunningServer.StartAsync(null, settings);
        var data = first.DataPath;
        try
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(first.Http, $"{Point}/Streams(a)", [.. header, .. fragments.Take(4).SelectMany(f => f)])).Status);
            await Eventually.WaitUntilAsync(() => File.Exists(Path.Combine(ts, "2.ts")), "the segments before the restart never reached the folder", TimeSpan.FromSeconds(30));
        }
        finally
        {
            await first.DisposeAsync();
        }

        await using var second = await RunningServer.StartAsync(data, settings);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(second.Http, $"{Point}/Streams(a)",
            [.. header, .. fragments.Skip(4).SelectMany(f => Boxes.ShiftTfxd(f, 3600L * 10_000_000))])).Status);
        await Eventually.WaitUntilAsync(() => !File.Exists(Path.Combine(ts, "0.ts")) && !File.Exists(Path.Combine(ts, "2.ts")),
            "the segments the process before put stayed in the store", TimeSpan.FromSeconds(30));
        Assert.InRange((await second.Http.GetFromJsonAsync<JsonElement>("api/publish")).GetProperty("deletes").GetInt64(), 1, 20);
    }

    /// <summary>
    /// A segment the origin cannot make (a corrupt sample: it answers 422 for it) used to fail the point's publishing pass
    /// at that segment every time, so nothing after it was ever published and the store counted as down (a review's
    /// finding). It is skipped and counted now, and the rest of the point reaches the folder.
    /// </summary>
    [Fact]
    public async Task ASegmentTheOriginCannotMake_IsSkipped_AndTheRestIsPublished()
    {
        var (server, folder) = await PublishingHlsToAFolderAsync();
        await using var _ = server;
        const string Point = "live/corrupt.isml";
        var capture = (byte[])(await IsmvCapture.SixSecondsAsync()).Clone();
        var mdat = Boxes.TopLevel(capture).First(b => b.Type == "mdat");
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(capture.AsSpan(mdat.Offset + 8), 0x7C1D_0000); // the first NAL's length
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(enc1)", capture);
        Assert.True(status == System.Net.HttpStatusCode.OK, body);

        var media = await VodFilesAsync(server.DataPath, folder, Point);
        var ts = media.Single(m => m.Key.EndsWith("video-400000.m3u8", StringComparison.Ordinal));
        var dir = Path.GetDirectoryName(Path.Combine(folder, ts.Key))!;
        var segments = HlsText.Segments(ts.Text).Select(s => s.Uri).ToList();
        Assert.Equal(3, segments.Count);
        Assert.False(File.Exists(Path.Combine(dir, segments[0])), "the segment the origin answers 422 for");
        Assert.All(segments.Skip(1), s => Assert.True(File.Exists(Path.Combine(dir, s)), s));
        Assert.True(Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Publishing.PublishStatus>(server.Services).Skipped >= 1);
    }

    /// <summary>
    /// A low-latency push (a 'moof' every 200 ms): what is published is plain live output, since a store neither holds
    /// parts nor blocks a reload. The live MPD's open segment (still being built) had been taken as published, so nearly
    /// every fMP4 segment missed the store; the media playlists named parts and preload hints never published (a
    /// review's findings).
    /// </summary>
    [Fact]
    public async Task ALowLatencyPush_IsPublishedAsPlainLiveOutput_EverySegmentIncluded()
    {
        var folder = TempDirectory.Create("pp-www");
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={folder}");
        const string Point = "live/llpub.isml";
        var push = Encoder.PushLowLatencyCmafAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { VideoKbps = 400, Seconds = 12 });

        var livePlaylists = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while (!push.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
            var hls = Path.Combine(folder, Point, "hls");
            if (Directory.Exists(hls))
            {
                foreach (var playlist in Directory.GetFiles(hls, "*.m3u8"))
                {
                    try
                    {
                        livePlaylists.Add(await File.ReadAllTextAsync(playlist));
                    }
                    catch (IOException)
                    {
                        // replaced while read
                    }
                }
            }
        }

        Assert.Equal(0, (await push).ExitCode);
        Assert.NotEmpty(livePlaylists);
        Assert.All(livePlaylists, text => Assert.DoesNotContain("#EXT-X-PART", text, StringComparison.Ordinal));
        Assert.All(livePlaylists, text => Assert.DoesNotContain("#EXT-X-PRELOAD-HINT", text, StringComparison.Ordinal));
        Assert.All(livePlaylists, text => Assert.DoesNotContain("CAN-BLOCK-RELOAD", text, StringComparison.Ordinal));

        var media = await VodFilesAsync(server.DataPath, folder, Point);
        var fmp4 = media.Where(m => m.Key.EndsWith("-fmp4.m3u8", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(fmp4);
        foreach (var (key, text) in fmp4)
        {
            var dir = Path.GetDirectoryName(Path.Combine(folder, key))!;
            var segments = HlsText.Segments(text);
            Assert.True(segments.Count >= 5, $"{key}: {segments.Count} segments");
            var missing = segments.Where(s => !File.Exists(Path.Combine(dir, s.Uri))).Select(s => s.Uri).ToList();
            Assert.True(missing.Count == 0, $"{key}: {missing.Count} of {segments.Count} segments not published: {string.Join(", ", missing)}");
        }
    }

    /// <summary>
    /// Points due at once (after a restart, an outage, a new target: here eight finished pushes and a slow store) take
    /// turns: at most MaxConcurrentPasses passes run, each repackaging and uploading (a review's finding: all of them
    /// ran at once, each with a store connection and its share of the cores and the segment cache).
    /// </summary>
    [Fact]
    public async Task PointsDueAtOnce_TakeTurns_UpToMaxConcurrentPasses()
    {
        var store = new SlowCountingStore();
        await using var server = await RunningServer.StartAsync(null,
            services => Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<PublishingPoint.Server.Publishing.IObjectStore>(services, store),
            "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={TempDirectory.Create("pp-www")}",
            "--PublishingPoint:Publish:MaxConcurrentPasses=2", "--PublishingPoint:Publish:Formats:0=Hls");
        var capture = await IsmvCapture.SixSecondsAsync();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            var (status, body) = await Posting.PostChunkedAsync(server.Http, $"live/turn{i}.isml/Streams(a)", capture);
            Assert.True(status == System.Net.HttpStatusCode.OK, body);
        }));

        await Eventually.WaitUntilAsync(() => store.Points.Count == 8, $"published points: {store.Points.Count}", TimeSpan.FromSeconds(60));
        Assert.Equal(2, store.MaxConcurrent);
    }

    /// <summary>
    /// A finished event the store lacks (publishing turned on for an archive, a new target) was put in one pass, every
    /// segment of it, and held its turn for as long: with MaxConcurrentPasses such events no other point was published
    /// meanwhile, live ones included, for hours on a long event (a review's finding). A finished event's pass now gives
    /// its turn up after a few seconds of segments and goes on at its next; its playlists still come last.
    /// </summary>
    [Fact]
    public async Task AFinishedEventTheStoreLacks_GivesItsTurnUp_SoOtherPointsArePublishedMeanwhile()
    {
        var data = await FinishedEventAsync("live/archived.isml");

        var store = new SlowCountingStore(delay: 100);
        await using (var server = await RunningServer.StartAsync(data, services => UseStore(services, store),
            "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={TempDirectory.Create("pp-www")}",
            "--PublishingPoint:Publish:Formats:0=Hls", "--PublishingPoint:Publish:MaxConcurrentPasses=1"))
        {
            await Eventually.WaitUntilAsync(() => store.Keys.Any(k => k.StartsWith("live/archived.isml/hls/", StringComparison.Ordinal)),
                "the finished event was never published", TimeSpan.FromSeconds(30));
            var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/other.isml/Streams(a)", await IsmvCapture.SixSecondsAsync());
            Assert.True(status == System.Net.HttpStatusCode.OK, body);
            await Eventually.WaitUntilAsync(() => store.Keys.Contains("live/other.isml/master.m3u8"),
                "the other point waited for the whole finished event", TimeSpan.FromSeconds(20));
            Assert.False(store.Keys.Contains("live/archived.isml/master.m3u8"), "the finished event's playlists came before all its segments");
            await Eventually.WaitUntilAsync(() => store.Keys.Contains("live/archived.isml/master.m3u8"),
                "the finished event's publishing never went on after its turn", TimeSpan.FromSeconds(120));
        }
    }

    /// <summary>
    /// A point deleted while its segments were being published: its pass went on through every segment left, each one
    /// "cannot be made" (its archive gone), a warning and a skipped segment apiece, tens of thousands for a long event,
    /// and those still cached were put into the store after the delete (a review's finding). The pass stops.
    /// </summary>
    [Fact]
    public async Task APointDeletedWhileItIsPublished_StopsItsPass_WithoutSkippingOrPuttingTheRest()
    {
        var data = await FinishedEventAsync("live/gone.isml");

        var store = new SlowCountingStore(delay: 100);
        await using (var server = await RunningServer.StartAsync(data, services => UseStore(services, store),
            "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={TempDirectory.Create("pp-www")}", "--PublishingPoint:Publish:Formats:0=Hls"))
        {
            await Eventually.WaitUntilAsync(() => store.Keys.Count(k => k.StartsWith("live/gone.isml/hls/", StringComparison.Ordinal)) >= 5,
                "the point was never published", TimeSpan.FromSeconds(30));
            using (var deleted = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "api/points/live/gone.isml") { Headers = { { "X-Api-Key", "none is set: a non-simple request" } } }))
            {
                Assert.True(deleted.IsSuccessStatusCode, $"delete: {(int)deleted.StatusCode}");
            }

            var putWhenDeleted = store.Keys.Count;
            JsonElement publish = default;
            await Eventually.WaitUntilAsync(async () =>
            {
                publish = await server.Http.GetFromJsonAsync<JsonElement>("api/publish");
                return !publish.GetProperty("points").TryGetProperty("live/gone.isml", out _);
            }, "the deleted point's pass never ended", TimeSpan.FromSeconds(60));
            Assert.Equal(0, publish.GetProperty("skipped").GetInt64());
            Assert.True(store.Keys.Count <= putWhenDeleted + 1, $"{store.Keys.Count - putWhenDeleted} objects put after the delete");
            Assert.DoesNotContain(store.Keys, k => k.EndsWith("gone.isml/master.m3u8", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// A low-latency point changes with every part (five a second), each change a pass, and the MPD, whose publishTime
    /// was new every time, was put on every pass (a review's finding: 100 such points, 500 PUTs a second and the store's
    /// SlowDown). The MPD is put only when more than its publishTime changed, as the playlists (which carry no parts).
    /// </summary>
    [Fact]
    public async Task ALowLatencyPoint_PutsItsMpdAndPlaylistsOncePerSegment_NotPerPart()
    {
        var store = new SlowCountingStore(delay: 0);
        await using var server = await RunningServer.StartAsync(null,
            services => Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<PublishingPoint.Server.Publishing.IObjectStore>(services, store),
            "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={TempDirectory.Create("pp-www")}", "--PublishingPoint:FinalizeGraceSeconds=3600");
        const string Point = "live/llrate.isml";
        using var stop = new CancellationTokenSource();
        var push = Encoder.PushLowLatencyCmafAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = 60 }, stop.Token);
        await Eventually.WaitUntilAsync(() => store.Keys.Any(k => k.EndsWith("manifest.mpd", StringComparison.Ordinal)), "no MPD published", TimeSpan.FromSeconds(30));
        int Count(string suffix) => store.Keys.Count(k => k.EndsWith(suffix, StringComparison.Ordinal));
        var (mpdBefore, playlistsBefore, segmentsBefore) = (Count("manifest.mpd"), Count("video-300000-fmp4.m3u8"), Count(".m4s"));
        // Five more segments, however long a loaded machine takes to publish them.
        await Eventually.WaitUntilAsync(() => Count(".m4s") - segmentsBefore >= 5, "five more segments never published", TimeSpan.FromSeconds(40));
        var (mpd, playlists, segments) = (Count("manifest.mpd") - mpdBefore, Count("video-300000-fmp4.m3u8") - playlistsBefore, Count(".m4s") - segmentsBefore);
        await stop.CancelAsync();
        await push.ContinueWith(_ => { }, TaskScheduler.Default); // the encoder is stopped by the cancellation

        // About one new version of each a segment, not one a part (five a second).
        Assert.True(segments >= 2, $"{segments} segments published");
        Assert.True(playlists <= segments + 2, $"{playlists} playlist PUTs for {segments} segments");
        Assert.True(mpd <= segments + 2, $"{mpd} MPD PUTs for {segments} segments");
    }

    /// <summary>
    /// A pass that failed by the origin's own fault (here every read of the event's archive fails, as a failing disk's
    /// do) marked the store down: `/api/publish`, `store_up` and `/health/ready` blamed a store that took every PUT (a
    /// review's finding). It is a failure and the last error, named as the origin's, and the store stays up.
    /// </summary>
    [Fact]
    public async Task APassThatFailsByTheOriginsFault_DoesNotMarkTheStoreDown()
    {
        var data = await FinishedEventAsync("live/unreadable.isml");
        var store = new SlowCountingStore(delay: 100);
        await using var server = await RunningServer.StartAsync(data, services => UseStore(services, store),
            "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={TempDirectory.Create("pp-www")}",
            "--PublishingPoint:Publish:Formats:0=Hls", "--PublishingPoint:Publish:MaxRetryDelaySeconds=1");
        var files = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>(server.Services).ArchiveFiles;
        var status = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Publishing.PublishStatus>(server.Services);
        files.ReadFault = path => path.Contains("unreadable.isml", StringComparison.Ordinal);
        await Eventually.WaitUntilAsync(() => status.Failures >= 2, "no pass failed on the unreadable archive", TimeSpan.FromSeconds(30));

        var publish = await server.Http.GetStringAsync("api/publish");
        Assert.Contains("\"storeUp\":true", publish, StringComparison.Ordinal);
        Assert.Contains("origin, not the store: IOException: Input/output error", publish, StringComparison.Ordinal);
        Assert.Contains("object store: healthy", await server.Http.GetStringAsync("health/ready"), StringComparison.Ordinal);
        Assert.DoesNotContain("live/unreadable.isml/master.m3u8", store.Keys);

        files.ReadFault = null; // the disk is back: the event is published in full
        await Eventually.WaitUntilAsync(() => store.Keys.Contains("live/unreadable.isml/master.m3u8"),
            "the event was never published once its archive could be read", TimeSpan.FromSeconds(60));
        Assert.Equal(0, status.Skipped);
    }

    /// <summary>A data folder holding a finished 90 s event at <paramref name="point"/>, pushed with publishing off.</summary>
    private static async Task<string> FinishedEventAsync(string point)
    {
        var data = TempDirectory.Create("pp-data");
        await using var server = await RunningServer.StartAsync(data);
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{point}/Streams(a)", await IsmvCapture.MakeAsync(90, 200, 32));
        Assert.True(status == System.Net.HttpStatusCode.OK, body);
        return data;
    }

    private sealed class SlowCountingStore(int delay = 50) : PublishingPoint.Server.Publishing.IObjectStore
    {
        private int _active;

        public System.Collections.Concurrent.ConcurrentQueue<string> Keys { get; } = new();

        public System.Collections.Concurrent.ConcurrentDictionary<string, bool> Points { get; } = new(StringComparer.Ordinal);

        public int MaxConcurrent { get; private set; }

        public string Description => "test://slow";

        public async Task PutAsync(string key, ReadOnlyMemory<byte> bytes, string contentType, string cacheControl, CancellationToken cancellationToken)
        {
            var active = Interlocked.Increment(ref _active);
            lock (Points)
            {
                MaxConcurrent = Math.Max(MaxConcurrent, active);
            }

            await Task.Delay(delay, cancellationToken);
            Keys.Enqueue(key);
            Points[key[..key.IndexOf(".isml", StringComparison.Ordinal)]] = true;
            Interlocked.Decrement(ref _active);
        }

        public Task DeleteAsync(string key, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// An event published as VOD that goes on live (an encoder back on the same point) is no longer marked published: the
    /// mark stayed, and a restart before its second end was published took it for done, leaving live playlists without
    /// an end in the store for good (a review's finding). It is marked again once the second end is published.
    /// </summary>
    [Fact]
    public async Task AnEventThatGoesOnAfterItsVodWasPublished_IsNoLongerMarkedPublished()
    {
        var (server, folder) = await PublishingHlsToAFolderAsync();
        await using var _ = server;
        const string Point = "live/again.isml";
        var capture = await IsmvCapture.SixSecondsAsync();
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture);
        Assert.True(status == System.Net.HttpStatusCode.OK, body);
        var marker = Path.Combine(server.DataPath, "live", "again.isml", "published-to.txt");
        await Eventually.WaitUntilAsync(() => File.Exists(marker), "the VOD was never marked published", TimeSpan.FromSeconds(30));

        var (header, _) = Boxes.SplitFragments(capture);
        await using (var push = await HeldPush.StartAsync(server.BaseUrl, $"/{Point}/Streams(b)"))
        {
            await push.SendAsync(header);
            await Eventually.WaitUntilAsync(() => !File.Exists(marker), "still marked published while live again", TimeSpan.FromSeconds(30));
        }

        await Eventually.WaitUntilAsync(() => File.Exists(marker), "the second end was never marked published", TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// An encoder's pause leaves segment numbers without segments (numbers follow media time): the publisher walked
    /// every number and counted each missing one as a segment it could not publish (a review's finding: a day's pause,
    /// 43,200 false "skipped" a rendition). It walks the segments the point has.
    /// </summary>
    [Fact]
    public async Task APauseInTheMedia_IsNotCountedAsSkippedSegments()
    {
        var folder = TempDirectory.Create("pp-www");
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={folder}",
            "--PublishingPoint:Publish:Formats:0=Hls", "--PublishingPoint:MaxFragmentLeadSeconds=600", "--PublishingPoint:FinalizeGraceSeconds=3600");
        const string Point = "live/pause.isml";
        var capture = await IsmvCapture.SixSecondsAsync();
        var live = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", live)).Status);

        // The same media 100 s later on the encoder's clock: segments 50 to 52 after 0 to 2.
        var later = IsmvCapture.Later(live, 1_000_000_000);

        var moovEnd = Boxes.TopLevel(later).First(b => b.Type == "moof").Offset;
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", later[moovEnd..])).Status);

        var dir = Path.Combine(folder, Point, "hls", "video-400000");
        // When both pushes are in before the first pass, 0 to 2 are older than the live window and go after it (backfill).
        int[] expected = [0, 1, 2, 50, 51, 52];
        await Eventually.WaitUntilAsync(() => expected.All(n => File.Exists(Path.Combine(dir, $"{n}.ts"))),
            "segments 0 to 2 and 50 to 52 were never all published", TimeSpan.FromSeconds(30));
        Assert.Equal(0, Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Publishing.PublishStatus>(server.Services).Skipped);
    }

    /// <summary>
    /// The publisher's progress lived in memory: after a restart every point published its whole retained archive
    /// again, segment by segment, before its first playlist (a review's finding: a 24/7 channel's store playlists
    /// frozen for as long as that takes, for every viewer behind the CDN). It goes on where it stopped: the segments
    /// published before the restart are not put again, and the media that comes after them is.
    /// </summary>
    [Fact]
    public async Task ARestartedServer_GoesOnWhereItsPublishingStopped_WithoutPuttingSegmentsAgain()
    {
        var data = TempDirectory.Create("pp-data");
        string[] settings = ["--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={TempDirectory.Create("pp-www")}",
            "--PublishingPoint:Publish:Formats:0=Hls", "--PublishingPoint:FinalizeGraceSeconds=3600"];
        const string Point = "live/resume.isml";
        var capture = await IsmvCapture.SixSecondsAsync();
        var live = IsmvCapture.WithoutEnd(capture);

        var before = new SlowCountingStore(delay: 0);
        await using (var server = await RunningServer.StartAsync(data, services => UseStore(services, before), settings))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", live)).Status);
            var listed = HlsText.Segments(await server.Http.GetStringAsync($"{Point}/hls/video-400000.m3u8")).Count;
            await Eventually.WaitUntilAsync(() => before.Keys.Count(k => k.Contains("video-400000/", StringComparison.Ordinal)) >= listed,
                "the live segments were never published", TimeSpan.FromSeconds(30));
        }

        var published = before.Keys.Where(IsSegment).ToHashSet(StringComparer.Ordinal);
        // The same encoder goes on: the next six seconds of its media.
        await AssertPublishedAfterARestartWithoutPuttingAgainAsync(data, settings, Point, IsmvCapture.Later(live, 60_000_000), published);
    }

    /// <summary>
    /// An event published as VOD whose encoder comes back after a restart (an overnight stop across a deploy): its
    /// progress was thrown away with the VOD mark, so the whole event was put again as older segments (a review's
    /// finding: days of an archive's PUTs and repackaging). What the store took before the restart is not put again.
    /// </summary>
    [Fact]
    public async Task AnEventPublishedAsVod_ThatGoesOnAfterARestart_IsNotPutAgain()
    {
        var data = TempDirectory.Create("pp-data");
        string[] settings = ["--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={TempDirectory.Create("pp-www")}",
            "--PublishingPoint:Publish:Formats:0=Hls"];
        const string Point = "live/overnight.isml";
        var capture = await IsmvCapture.SixSecondsAsync();

        var before = new SlowCountingStore(delay: 0);
        await using (var server = await RunningServer.StartAsync(data, services => UseStore(services, before), settings))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture)).Status);
            var marker = Path.Combine(server.DataPath, "live", "overnight.isml", "published-to.txt");
            await Eventually.WaitUntilAsync(() => File.Exists(marker), "the VOD was never marked published", TimeSpan.FromSeconds(30));
        }

        var published = before.Keys.Where(IsSegment).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(published);
        await AssertPublishedAfterARestartWithoutPuttingAgainAsync(data, settings, Point, IsmvCapture.Later(capture, 60_000_000), published);
    }

    private static bool IsSegment(string key) => key.EndsWith(".ts", StringComparison.Ordinal) || key.EndsWith(".aac", StringComparison.Ordinal);

    /// <summary>
    /// A server restarted on <paramref name="data"/> takes <paramref name="next"/> at <paramref name="point"/> and
    /// publishes it (its newest segment and a playlist), putting none of <paramref name="published"/> again.
    /// </summary>
    private static async Task AssertPublishedAfterARestartWithoutPuttingAgainAsync(string data, string[] settings, string point, byte[] next, HashSet<string> published)
    {
        var after = new SlowCountingStore(delay: 0);
        await using (var server = await RunningServer.StartAsync(data, services => UseStore(services, after), settings))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{point}/Streams(a)", next)).Status);
            var newest = HlsText.Segments(await server.Http.GetStringAsync($"{point}/hls/video-400000.m3u8"))[^1].Uri;
            await Eventually.WaitUntilAsync(() => after.Keys.Any(k => k.EndsWith(newest, StringComparison.Ordinal)), $"{newest} never published after the restart", TimeSpan.FromSeconds(30));
            await Eventually.WaitUntilAsync(() => after.Keys.Any(k => k.EndsWith("video-400000.m3u8", StringComparison.Ordinal)), "no playlist after the restart", TimeSpan.FromSeconds(30));
        }

        var again = after.Keys.Where(published.Contains).ToList();
        Assert.True(again.Count == 0, $"put again after the restart: {string.Join(", ", again)}");
        Assert.Contains(after.Keys, IsSegment);
    }

    /// <summary>
    /// A store that lacks more than a live point's window (publishing turned on for a point with hours archived, an
    /// outage longer than the window, progress lost) got all of it, oldest first, before the first playlist: viewers
    /// behind the CDN saw no new playlist for as long as that took (a review's finding). The window goes first, its
    /// playlists right after, then the older segments a batch a pass; the VOD playlists only once all are there.
    /// </summary>
    [Fact]
    public async Task AStoreLackingMoreThanTheWindow_GetsTheWindowAndItsPlaylistsFirst_ThenTheRest()
    {
        var data = TempDirectory.Create("pp-data");
        const string Point = "live/backfill.isml";
        var capture = await IsmvCapture.MakeAsync(40, 200, 64);
        var live = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        await using (var origin = await RunningServer.StartAsync(data, "--PublishingPoint:FinalizeGraceSeconds=3600"))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(origin.Http, $"{Point}/Streams(a)", live)).Status);
        }

        var store = new SlowCountingStore(delay: 0);
        await using var server = await RunningServer.StartAsync(data, services => UseStore(services, store),
            "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={TempDirectory.Create("pp-www")}",
            "--PublishingPoint:Publish:Formats:0=Hls", "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:DvrWindowSeconds=10");
        await Eventually.WaitUntilAsync(() => store.Keys.Any(k => k.EndsWith(".m3u8", StringComparison.Ordinal)), "no playlist published", TimeSpan.FromSeconds(30));
        var beforePlaylist = store.Keys.TakeWhile(k => !k.EndsWith(".m3u8", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(beforePlaylist, k => k.EndsWith("/0.ts", StringComparison.Ordinal) || k.EndsWith("/0.m4s", StringComparison.Ordinal) || k.EndsWith("/0.aac", StringComparison.Ordinal));
        Assert.True(beforePlaylist.Count <= (4 * 7) + 2, $"{beforePlaylist.Count} objects before the first playlist: {string.Join(", ", beforePlaylist)}");

        using var close = await server.Http.PostAsync($"api/points/{Point}/close", System.Net.Http.Json.JsonContent.Create(new { }));
        Assert.True(close.IsSuccessStatusCode, $"close: {close.StatusCode}");
        var marker = Path.Combine(data, "live", "backfill.isml", "published-to.txt");
        await Eventually.WaitUntilAsync(() => File.Exists(marker), "the VOD was never published", TimeSpan.FromSeconds(60));
        var keys = store.Keys.ToList();
        foreach (var playlist in new[] { "video-200000.m3u8", "audio-64000-fmp4.m3u8" })
        {
            var text = await server.Http.GetStringAsync($"{Point}/hls/{playlist}");
            Assert.Contains("#EXT-X-ENDLIST", text, StringComparison.Ordinal);
            var lastPut = keys.FindLastIndex(k => k.EndsWith("/" + playlist, StringComparison.Ordinal));
            Assert.True(HlsText.Segments(text).Count >= 19, $"{playlist}:\n{text}");
            foreach (var (_, uri) in HlsText.Segments(text))
            {
                var at = keys.IndexOf($"{Point}/hls/{uri}");
                Assert.True(at >= 0 && at < lastPut, $"{uri} is not in the store before the VOD {playlist} (at {at}, playlist at {lastPut})");
            }
        }
    }

    /// <summary>
    /// Windowed, an event that ended while the server was down was published after the restart with VOD playlists that
    /// listed segments deleted from the store before it (a review's finding on the progress file: the VOD's cut to what
    /// the store holds was made before the saved progress was read). The VOD lists only what the folder holds.
    /// </summary>
    [Fact]
    public async Task AWindowedEventThatEndedAcrossARestart_ListsOnlyWhatTheStoreHolds()
    {
        var data = TempDirectory.Create("pp-data");
        var folder = TempDirectory.Create("pp-www");
        const string Point = "live/windowed-restart.isml";
        string[] publish = ["--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={folder}", "--PublishingPoint:Publish:Formats:0=Hls",
            "--PublishingPoint:Publish:KeepSegmentsForVod=false", "--PublishingPoint:DvrWindowSeconds=10"];
        var capture = await IsmvCapture.MakeAsync(30, 200, 0);
        var live = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        var dir = Path.Combine(folder, Point, "hls", "video-200000");
        await using (var server = await RunningServer.StartAsync(data, [.. publish, "--PublishingPoint:FinalizeGraceSeconds=3600"]))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", live)).Status);
            await Eventually.WaitUntilAsync(() => File.Exists(Path.Combine(dir, "14.ts")) && !File.Exists(Path.Combine(dir, "0.ts")), "the window never moved on in the folder", TimeSpan.FromSeconds(30));
        }

        // Started again with no grace: the point is finalised at once and its first pass publishes the VOD.
        await using var restarted = await RunningServer.StartAsync(data, [.. publish, "--PublishingPoint:FinalizeGraceSeconds=0"]);
        var media = await VodFilesAsync(data, folder, Point);
        foreach (var (key, text) in media)
        {
            var segmentFolder = Path.GetDirectoryName(Path.Combine(folder, key))!;
            Assert.All(HlsText.Segments(text), s => Assert.True(File.Exists(Path.Combine(segmentFolder, s.Uri)), $"{key} lists {s.Uri}, which the folder does not hold"));
        }
    }

    private static void UseStore(Microsoft.Extensions.DependencyInjection.IServiceCollection services, PublishingPoint.Server.Publishing.IObjectStore store) =>
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton(services, store);

    private static async Task<(RunningServer Server, string Folder)> PublishingHlsToAFolderAsync()
    {
        var folder = TempDirectory.Create("pp-www");
        var server = await RunningServer.StartAsync(null, "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={folder}",
            "--PublishingPoint:Publish:Formats:0=Hls");
        return (server, folder);
    }

    /// <summary>
    /// The VOD playlists once the whole VOD pass is in the folder: its media playlists go before the masters and the MPD,
    /// so the marker the publisher writes after the pass is what says all of them are there.
    /// </summary>
    private static async Task<List<(string Key, string Text)>> VodFilesAsync(string data, string folder, string point)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var marker = Path.Combine(data, point, "published-to.txt");
        while (true)
        {
            var hls = Path.Combine(folder, point, "hls");
            var playlists = Directory.Exists(hls) ? Directory.GetFiles(hls, "*.m3u8") : [];
            var texts = playlists.Select(p => (Key: Path.GetRelativePath(folder, p).Replace('\\', '/'), Text: File.ReadAllText(p))).ToList();
            if (File.Exists(marker) && texts.Count > 0 && texts.All(t => t.Text.Contains("#EXT-X-ENDLIST", StringComparison.Ordinal)))
            {
                return texts;
            }

            Assert.True(DateTime.UtcNow < deadline, "the VOD playlists never reached the folder");
            await Task.Delay(200);
        }
    }
}

public sealed class PublishSettingsTests
{
    [Theory]
    [InlineData("Publish:S3:Bucket", "--PublishingPoint:Publish:Target=S3")]
    [InlineData("Publish:Path", "--PublishingPoint:Publish:Target=FileSystem")]
    [InlineData("AccessKey and SecretKey", "--PublishingPoint:Publish:Target=S3", "--PublishingPoint:Publish:S3:Bucket=b", "--PublishingPoint:Publish:S3:AccessKey=k")]
    public async Task InvalidPublishSettingsStopTheServerAtStartup(string named, params string[] settings)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await (await RunningServer.StartAsync(null, settings)).DisposeAsync());
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}
