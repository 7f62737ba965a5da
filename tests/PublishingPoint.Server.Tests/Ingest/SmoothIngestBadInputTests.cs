using System.Buffers.Binary;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>Bad pushes get a clear 4xx, create nothing, and never harm what other streams already gave.</summary>
public sealed class SmoothIngestBadInputTests
{
    [Fact]
    public async Task BodyThatIsNotIsoBmff_Gets415_AndCreatesNoPoint()
    {
        await using var server = await RunningServer.StartAsync();
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/junk.isml/Streams(a)", "this is not an mp4 body at all"u8.ToArray());
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Contains("not ISO-BMFF", body, StringComparison.Ordinal);
        using var manifest = await server.Http.GetAsync("live/junk.isml/Manifest");
        Assert.Equal(HttpStatusCode.NotFound, manifest.StatusCode);
        Assert.False(Directory.Exists(Path.Combine(server.DataPath, "live", "junk.isml")));
    }

    /// <summary>
    /// A fragment with neither 'tfxd' nor 'tfdt' was placed after the previous one; a restart could only place it after
    /// the previous one in its own file, so after a rollover the fragments of all files but one left the index. Refused.
    /// </summary>
    [Fact]
    public async Task AFragmentWithoutATime_Gets400_AndTheFragmentsBeforeItStay()
    {
        await using var server = await RunningServer.StartAsync();
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var timeless = (byte[])fragments[2].Clone();
        foreach (var type in new[] { "tfdt"u8.ToArray(), Boxes.TfxdUserType })
        {
            var at = timeless.AsSpan().IndexOf(type);
            if (at >= 0)
            {
                timeless[at] ^= 0x20; // 'tfdt' becomes 'Tfdt', the 'tfxd' uuid another uuid: boxes a reader skips
            }
        }

        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/timeless.isml/Streams(a)", [.. header, .. fragments[0], .. fragments[1], .. timeless]);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("its time is unknown", body, StringComparison.Ordinal);
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/timeless.isml/Manifest");
        Assert.Equal(2, manifest.ChunkTimes("video").Length + manifest.ChunkTimes("audio").Length);
    }

    [Fact]
    public async Task BoxLargerThanTheLimit_Gets413_AndFragmentsBeforeItStay()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxBoxBytes=1048576");
        var capture = await IsmvCapture.SixSecondsAsync();
        var boxes = Boxes.TopLevel(capture);
        var secondMoof = boxes.Where(b => b.Type == "moof").ElementAt(2).Offset;
        var absurd = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(absurd, 0x7FFF_FFF0);
        "mdat"u8.CopyTo(absurd.AsSpan(4));
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/big.isml/Streams(a)", [.. capture.AsSpan(0, secondMoof), .. absurd]);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("over the 1048576-byte limit", body, StringComparison.Ordinal);

        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/big.isml/Manifest");
        Assert.Single(manifest.ChunkTimes("video"));
        Assert.Single(manifest.ChunkTimes("audio"));
    }

    /// <summary>
    /// A fragment's cost must stay in proportion to its bytes (a review's findings): track fragments beyond the stream's
    /// tracks (each split out as a fragment of its own) and samples that take no bytes (each a table entry) were
    /// accepted. Both get 400 now, and the fragments before them stay.
    /// </summary>
    [Theory]
    [InlineData(new[] { 1, 2, 1 }, 1, 100, "3 track fragments for a stream of 2 tracks")]
    [InlineData(new[] { 1 }, 1000, 0, "announces 1000 samples in 0 bytes")]
    public async Task FragmentOutOfProportionToItsBytes_Gets400_AndTheFragmentsBeforeStay(int[] tracks, int samples, int sampleSize, string refusal)
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync(); // video and audio: two tracks
        var boxes = Boxes.TopLevel(capture);
        var secondMoof = boxes.Where(b => b.Type == "moof").ElementAt(2).Offset;
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/heavy.isml/Streams(a)", [.. capture.AsSpan(0, secondMoof), .. HandMadeFragment(tracks, samples, sampleSize)]);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(refusal, body, StringComparison.Ordinal);

        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/heavy.isml/Manifest");
        Assert.Single(manifest.ChunkTimes("video"));
        Assert.Single(manifest.ChunkTimes("audio"));
    }

    /// <summary>
    /// Header boxes stay in memory with every archive run of their stream (a review's finding: a 4 MiB 'ftyp' and a 4 MiB
    /// ISML box padded with NULs, then 32 slightly different 'moov's, held 256 MiB for 8 MiB sent, per stream). Each
    /// header box has a size bound of its own now, and a stream's runs hold at most 4 MiB of headers together.
    /// </summary>
    [Fact]
    public async Task HeaderBoxesOverTheirBounds_AndHeadersOverTheStreamsShare_AreRefused()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        var boxes = Boxes.TopLevel(capture);
        var ftyp = boxes.Single(b => b.Type == "ftyp");
        var moov = boxes.Single(b => b.Type == "moov");
        var prologue = capture[..moov.Offset];
        var isml = capture.AsSpan(0, moov.Offset)[ftyp.Size..].ToArray();

        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/headers.isml/Streams(a)", [.. capture[..ftyp.Size], .. Padded(isml, 100_000), .. capture.AsSpan(moov.Offset, moov.Size)]);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("over 65536", body, StringComparison.Ordinal);

        // 'moov's of 900 KB, each a little different: the fifth would take the stream's headers over 4 MiB.
        var statuses = new List<HttpStatusCode>();
        for (byte i = 0; i < 5; i++)
        {
            var big = Padded(capture.AsSpan(moov.Offset, moov.Size).ToArray(), 900_000, fill: i);
            (status, body) = await Posting.PostChunkedAsync(server.Http, "live/headers.isml/Streams(a)", [.. prologue, .. big]);
            statuses.Add(status);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Contains("4194304 bytes together", body, StringComparison.Ordinal);
    }

    /// <summary>
    /// A 'prft' whose media time is out of any range (a 64-bit one read negative, or centuries long) made the timeline
    /// anchor overflow (500 for fragments already archived) or land at the end of time, kept in timeline.json, after
    /// which every HLS and DASH answer of the point was a 500, across restarts (a review's finding). Such a box is
    /// ignored now: the anchor comes from the arrival, as without one.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task APrftOutOfRange_IsIgnored_AndThePointPlays(bool endOfTime)
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        var firstMoof = Boxes.TopLevel(capture).First(b => b.Type == "moof").Offset;
        // Track 1's timescale is 10 MHz, 100 ns ticks: a media time that puts media time 0 two seconds before the end of time.
        var wallClock = new DateTimeOffset(DateTime.UtcNow.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var mediaTime = endOfTime ? (wallClock - DateTimeOffset.MaxValue.AddSeconds(-2)).Ticks : long.MaxValue;
        var prft = new PublishingPoint.Media.IsoBmff.PrftBox(1, wallClock, mediaTime).Write();
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/prft.isml/Streams(a)", [.. capture[..firstMoof], .. prft, .. capture[firstMoof..]]);
        Assert.True(status == HttpStatusCode.OK, body);

        using var playlist = await server.Http.GetAsync("live/prft.isml/hls/video-400000.m3u8");
        Assert.Equal(HttpStatusCode.OK, playlist.StatusCode);
        var text = await playlist.Content.ReadAsStringAsync();
        var dated = Hls.HlsText.Tag(text, "#EXT-X-PROGRAM-DATE-TIME") ?? throw new InvalidDataException("no program date time:\n" + text);
        Assert.InRange(DateTimeOffset.Parse(dated, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
        using var mpd = await server.Http.GetAsync("live/prft.isml/manifest.mpd");
        Assert.Equal(HttpStatusCode.OK, mpd.StatusCode);
    }

    // The box with a 'free' box of `extra` bytes appended inside it, its size mended.
    private static byte[] Padded(byte[] box, int extra, byte fill = 0)
    {
        var padded = new byte[box.Length + extra];
        box.CopyTo(padded, 0);
        BinaryPrimitives.WriteUInt32BigEndian(padded, (uint)padded.Length);
        Boxes.WriteHeader(padded, box.Length, extra, "free");
        padded.AsSpan(box.Length + 8).Fill(fill);
        return padded;
    }

    // moof { mfhd, traf { tfhd (track id, base is moof, default sample size), trun (count, data offset at the mdat's payload) } per track }, mdat.
    private static byte[] HandMadeFragment(int[] tracks, int samples, int sampleSize)
    {
        const int TrafSize = 8 + 20 + 20;
        var moofSize = 8 + 16 + (TrafSize * tracks.Length);
        var payload = samples * sampleSize;
        var bytes = new byte[moofSize + 8 + payload];
        var at = Boxes.WriteHeader(bytes, 0, moofSize, "moof");
        at = Boxes.WriteHeader(bytes, at, 16, "mfhd");
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 4), 99);
        at += 8;
        foreach (var track in tracks)
        {
            at = Boxes.WriteHeader(bytes, at, TrafSize, "traf");
            at = Boxes.WriteHeader(bytes, at, 20, "tfhd");
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), 0x020000 | 0x10);
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 4), (uint)track);
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 8), (uint)sampleSize);
            at += 12;
            at = Boxes.WriteHeader(bytes, at, 20, "trun");
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), 0x000001);
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 4), (uint)samples);
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at + 8), moofSize + 8);
            at += 12;
        }

        Boxes.WriteHeader(bytes, at, 8 + payload, "mdat");
        return bytes;
    }


    [Fact]
    public async Task TruncatedFragment_Gets400_TheCompleteOnesAreKeptAndServed()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        var mdats = Boxes.TopLevel(capture).Where(b => b.Type == "mdat").ToList();
        var cut = mdats[3].Offset + (mdats[3].Size / 2); // inside the fourth fragment
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/cut.isml/Streams(a)", capture[..cut]);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("partial box is discarded", body, StringComparison.Ordinal);

        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/cut.isml/Manifest");
        Assert.False(manifest.IsLive);
        var fragments = manifest.ChunkTimes("video").Length + manifest.ChunkTimes("audio").Length;
        Assert.Equal(3, fragments);
        foreach (var time in manifest.ChunkTimes("video"))
        {
            using var response = await server.Http.GetAsync(manifest.Url("video", 400000, time));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Theory]
    [InlineData("live/bad$name.isml/Streams(a)")]
    [InlineData("live/.hidden.isml/Streams(a)")]
    [InlineData("live/ch1.isml/Streams(a%20b)")]
    [InlineData("live/ch1.isml/Streams(..)")]
    [InlineData("live/ch1.isml/Streams()")]
    [InlineData("a/b/c/d/e/f/g/h/i/ch1.isml/Streams(a)")]
    [InlineData("Metrics/ch1.isml/Streams(a)")]
    public async Task HostilePathOrStreamId_Gets400_AndNothingOnDisk(string url)
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        var (status, _) = await Posting.PostChunkedAsync(server.Http, url, capture);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(server.DataPath, "*", SearchOption.AllDirectories), e => Path.GetFileName(e) != ".lock"); // but the server's own lock on its folder
    }

    [Fact]
    public async Task SameBitrateWithDifferentMedia_Gets409_AndTheFirstStreamKeepsServing()
    {
        await using var server = await RunningServer.StartAsync();
        var first = await IsmvCapture.SixSecondsAsync();
        var (status, _) = await Posting.PostChunkedAsync(server.Http, "live/clash.isml/Streams(a)", first);
        Assert.Equal(HttpStatusCode.OK, status);

        var other = await IsmvCapture.MakeAsync(2, 400, 0, 640, 360); // same 400 kbit/s, other picture size
        var (clash, body) = await Posting.PostChunkedAsync(server.Http, "live/clash.isml/Streams(b)", other);
        Assert.Equal(HttpStatusCode.Conflict, clash);
        Assert.Contains("video@400000", body, StringComparison.Ordinal);

        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/clash.isml/Manifest");
        Assert.Equal([400000], manifest.Bitrates("video"));
        Assert.Equal(3, manifest.ChunkTimes("video").Length);
        Assert.Equal(["a.ismv"], Directory.GetFiles(Path.Combine(server.DataPath, "live", "clash.isml"), "*.ismv").Select(Path.GetFileName));
    }

    /// <summary>
    /// A second connection on the same stream id sends another header (another encoder, or the same one restarted with
    /// other settings while its old connection lingers): the stream's archive moves on to the new header, and the old
    /// connection's fragments are refused rather than written into a file whose header describes other media.
    /// </summary>
    [Fact]
    public async Task AnotherHeaderOnTheSameStream_RefusesTheOldConnectionsFragments_409()
    {
        await using var server = await RunningServer.StartAsync();
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var (otherHeader, _) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(2, 300, 64, 480, 270));
        await using var old = await HeldPush.StartAsync(server.BaseUrl, "/live/swap.isml/Streams(enc)");
        await old.SendAsync(header);
        await old.SendAsync(fragments[0]);
        var folder = Path.Combine(server.DataPath, "live", "swap.isml");
        await Eventually.WaitUntilAsync(() => File.Exists(Path.Combine(folder, "enc.ismv")), "no archive for the first header");

        await using var replacing = await HeldPush.StartAsync(server.BaseUrl, "/live/swap.isml/Streams(enc)");
        await replacing.SendAsync(otherHeader);
        await Eventually.WaitUntilAsync(() => File.Exists(Path.Combine(folder, "enc.1.ismv")), "no archive for the second header");
        var before = Boxes.TopLevel(await File.ReadAllBytesAsync(Path.Combine(folder, "enc.1.ismv"))).Count(b => b.Type == "moof");

        foreach (var fragment in fragments.Skip(1))
        {
            try
            {
                await old.SendAsync(fragment);
            }
            catch (IOException)
            {
                break; // refused and closed
            }
        }

        Assert.Equal(409, await old.FinishAsync());
        Assert.Equal(0, before);
        Assert.Equal(0, Boxes.TopLevel(await File.ReadAllBytesAsync(Path.Combine(folder, "enc.1.ismv"))).Count(b => b.Type == "moof"));
        Assert.Equal(200, await replacing.FinishAsync());
    }

    /// <summary>
    /// A redundant encoder (or a reconnection) whose 'moov' differs from the first only in its clock readings (the
    /// creation and modification times) sends the same media: one archive file, and neither connection is refused.
    /// </summary>
    [Fact]
    public async Task AHeaderThatDiffersOnlyInItsTimes_IsTheSameStream()
    {
        await using var server = await RunningServer.StartAsync();
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var restamped = header.ToArray();
        var mvhd = restamped.AsSpan().IndexOf("mvhd"u8);
        Assert.True(mvhd > 0);
        BinaryPrimitives.WriteUInt32BigEndian(restamped.AsSpan(mvhd + 8 + (restamped[mvhd + 4] == 1 ? 4 : 0)), 0x12345678);
        Assert.NotEqual(header, restamped);

        await using var first = await HeldPush.StartAsync(server.BaseUrl, "/live/same.isml/Streams(enc)");
        await first.SendAsync(header);
        await first.SendAsync(fragments[0]);
        var folder = Path.Combine(server.DataPath, "live", "same.isml");
        await Eventually.WaitUntilAsync(() => File.Exists(Path.Combine(folder, "enc.ismv")), "no archive");

        await using (var second = await HeldPush.StartAsync(server.BaseUrl, "/live/same.isml/Streams(enc)"))
        {
            await second.SendAsync(restamped);
            await second.SendAsync(fragments[0]);
            Assert.Equal(200, await second.FinishAsync());
        }

        foreach (var fragment in fragments.Skip(1))
        {
            await first.SendAsync(fragment);
        }

        Assert.Equal(200, await first.FinishAsync());
        Assert.Equal(["enc.ismv"], Directory.GetFiles(folder, "*.ismv").Select(Path.GetFileName));
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/same.isml/Manifest");
        Assert.Equal(fragments.Count, manifest.ChunkTimes("video").Length + manifest.ChunkTimes("audio").Length);
    }

    [Fact]
    public async Task EmptyHandshakePost_Gets200_AndCreatesNothing()
    {
        await using var server = await RunningServer.StartAsync();
        using var content = new ByteArrayContent([]);
        using var response = await server.Http.PostAsync("live/hs.isml/Streams(enc)", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var manifest = await server.Http.GetAsync("live/hs.isml/Manifest");
        Assert.Equal(HttpStatusCode.NotFound, manifest.StatusCode);
    }

    [Fact]
    public async Task SameFragmentsTwice_RedundantEncoders_AreIndexedOnce()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        var pushes = await Task.WhenAll(
            Posting.PostChunkedAsync(server.Http, "live/red.isml/Streams(main)", capture),
            Posting.PostChunkedAsync(server.Http, "live/red.isml/Streams(main)", capture));
        Assert.All(pushes, p => Assert.Equal(HttpStatusCode.OK, p.Status));
        var (again, _) = await Posting.PostChunkedAsync(server.Http, "live/red.isml/Streams(backup)", capture);
        Assert.Equal(HttpStatusCode.OK, again);

        var expected = Boxes.TopLevel(capture).Count(b => b.Type == "moof");
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/red.isml/Manifest");
        Assert.Equal(expected, manifest.ChunkTimes("video").Length + manifest.ChunkTimes("audio").Length);
        Assert.Equal(manifest.ChunkTimes("video").Distinct().Count(), manifest.ChunkTimes("video").Length);
        // The fragments live once on disk: the main archive holds them all, the backup's only its header.
        var main = Boxes.TopLevel(await File.ReadAllBytesAsync(Path.Combine(server.DataPath, "live", "red.isml", "main.ismv")));
        Assert.Equal(expected, main.Count(b => b.Type == "moof"));
        var backup = Boxes.TopLevel(await File.ReadAllBytesAsync(Path.Combine(server.DataPath, "live", "red.isml", "backup.ismv")));
        Assert.Equal(0, backup.Count(b => b.Type == "moof"));
    }
}
