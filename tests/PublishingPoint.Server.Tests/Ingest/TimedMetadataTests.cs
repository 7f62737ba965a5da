using System.Buffers.Binary;
using System.Globalization;
using System.Xml.Linq;
using Microsoft.Playwright;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>
/// Timed metadata in CMAF ingest: 'emsg' boxes (ISO/IEC 23009-1) built from the specifications, carrying SCTE-35
/// splice_info_sections (ANSI/SCTE 35: a splice_insert out with a break duration, its return, a time_signal) and an ID3
/// tag, put between the fragments ffmpeg sent. They come out as HLS EXT-X-DATERANGE (SCTE35-OUT / -IN / -CMD, read
/// back by hls.js) and a DASH EventStream (SCTE 214-1).
/// </summary>
public sealed class TimedMetadataTests
{
    private const string Point = "live/cues.isml";
    private const string Id3Scheme = "https://aomedia.org/emsg/ID3";

    // ID3v2.4 with one TIT2 frame, "hi" (UTF-8).
    private static readonly byte[] Id3Tag = Convert.FromHexString("4944330400000000000D" + "54495432000000030000036869");

    [Fact]
    public async Task Scte35AndId3Events_BecomeDateRangesAndAnEventStream()
    {
        var stream = await IsmvCapture.CaptureAsync(Encoder.CmafPushArguments, new EncoderSettings { Seconds = 12, RealTime = false });
        var breakOut = SpliceInsert(1001, outOfNetwork: true, pts90k: 4 * 90_000, breakDuration90k: 4 * 90_000);
        var breakIn = SpliceInsert(1001, outOfNetwork: false, pts90k: null, breakDuration90k: null);
        var signal = TimeSignal(6 * 90_000);
        var moofs = Moofs(stream);
        var events = new Dictionary<int, byte[][]>
        {
            [1] = [Emsg1(breakOut, 1001, 4), new EmsgBox(0, Id3Scheme, "", 1000, 500, 0, 7, Id3Tag).Write()],
            [2] = [Emsg1(signal, 2002, 6)],
            [3] = [Emsg1(breakIn, 1002, 8)],
        };
        var body = Insert(stream, moofs, events);

        await using var server = await RunningServer.StartAsync();
        var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(cmaf)", body);
        Assert.True(status == System.Net.HttpStatusCode.OK, text);

        var master = await server.Http.GetStringAsync($"{Point}/master.m3u8");
        var playlistUri = HlsText.AttributeLines(master, "#EXT-X-STREAM-INF")[0].Uri!;
        var playlist = await server.Http.GetStringAsync($"{Point}/{playlistUri}");
        var ranges = HlsText.AttributeLines(playlist, "#EXT-X-DATERANGE").Select(l => l.Attributes).ToList();
        var first = DateTimeOffset.Parse(HlsText.Tag(playlist, "#EXT-X-PROGRAM-DATE-TIME")!, CultureInfo.InvariantCulture);
        var outRange = ranges.Single(r => r.ContainsKey("SCTE35-OUT"));
        Assert.Equal("0x" + Convert.ToHexString(breakOut), outRange["SCTE35-OUT"]);
        Assert.Equal("4", outRange["DURATION"]);
        Assert.Equal(first + TimeSpan.FromSeconds(4), DateTimeOffset.Parse(outRange["START-DATE"], CultureInfo.InvariantCulture));
        Assert.Equal("0x" + Convert.ToHexString(breakIn), ranges.Single(r => r.ContainsKey("SCTE35-IN"))["SCTE35-IN"]);
        Assert.Equal("0x" + Convert.ToHexString(signal), ranges.Single(r => r.ContainsKey("SCTE35-CMD"))["SCTE35-CMD"]);
        var id3 = ranges.Single(r => r.TryGetValue("CLASS", out var c) && c == Id3Scheme);
        Assert.Equal(first + TimeSpan.FromSeconds(2.5), DateTimeOffset.Parse(id3["START-DATE"], CultureInfo.InvariantCulture));

        // DASH: one SCTE-35 EventStream, the sections in base64, placed on the period's timeline.
        var mpd = XDocument.Parse(await server.Http.GetStringAsync($"{Point}/manifest.mpd"));
        var eventStream = mpd.Descendants().Single(e => e.Name.LocalName == "EventStream");
        Assert.Equal("urn:scte:scte35:2014:xml+bin", (string?)eventStream.Attribute("schemeIdUri"));
        var mpdEvents = eventStream.Elements().Where(e => e.Name.LocalName == "Event").ToList();
        Assert.Equal(3, mpdEvents.Count);
        var outEvent = mpdEvents.Single(e => (string?)e.Attribute("id") == "1001");
        Assert.Equal(40_000_000 + long.Parse((string)eventStream.Attribute("presentationTimeOffset")!, CultureInfo.InvariantCulture), long.Parse((string)outEvent.Attribute("presentationTime")!, CultureInfo.InvariantCulture));
        Assert.Equal(Convert.ToBase64String(breakOut), outEvent.Descendants().Single(e => e.Name.LocalName == "Binary").Value);

        // Smooth: a sparse stream beside the video, the sections in the manifest itself (MS-SSTR ManifestOutput).
        var smooth = XDocument.Parse(await server.Http.GetStringAsync($"{Point}/Manifest"));
        var sparse = smooth.Descendants("StreamIndex").Single(e => (string?)e.Attribute("Type") == "text");
        Assert.Equal("video", (string?)sparse.Attribute("ParentStreamIndex"));
        Assert.Equal("TRUE", (string?)sparse.Attribute("ManifestOutput"));
        var chunks = sparse.Elements("c").ToList();
        Assert.Equal(3, chunks.Count);
        Assert.Equal("40000000", (string?)chunks[0].Attribute("t"));
        Assert.Equal(Convert.ToBase64String(breakOut), chunks[0].Element("f")!.Value);

        // Timed ID3 in the fMP4 video segment of its time (2.5 s: the second), as 'emsg' v1 with the outputs' 10 s lift;
        // the MPD declares it as an InbandEventStream.
        var fmp4Master = await server.Http.GetStringAsync($"{Point}/master-fmp4.m3u8");
        var fmp4Playlist = await server.Http.GetStringAsync($"{Point}/{HlsText.AttributeLines(fmp4Master, "#EXT-X-STREAM-INF")[0].Uri}");
        var fmp4Folder = Path.GetDirectoryName(HlsText.AttributeLines(fmp4Master, "#EXT-X-STREAM-INF")[0].Uri)!.Replace('\\', '/');
        var second = await server.Http.GetByteArrayAsync($"{Point}/{fmp4Folder}/{HlsText.Segments(fmp4Playlist)[1].Uri}");
        var styp = (int)BinaryPrimitives.ReadUInt32BigEndian(second);
        Assert.Equal("emsg"u8.ToArray(), second.AsSpan(styp + 4, 4).ToArray());
        var emsgSize = (int)BinaryPrimitives.ReadUInt32BigEndian(second.AsSpan(styp));
        Assert.True(EmsgBox.TryRead(second.AsSpan(styp + 8, emsgSize - 8), out var carried));
        Assert.Equal((Id3Scheme, 7u), (carried!.SchemeIdUri, carried.Id));
        Assert.Equal(Id3Tag, carried.MessageData);
        Assert.Equal((long)(12.5 * carried.Timescale), carried.PresentationTime);
        Assert.Contains(mpd.Descendants().Where(e => e.Name.LocalName == "InbandEventStream"), e => (string?)e.Attribute("schemeIdUri") == Id3Scheme);

        // Timed ID3 in the TS segment of its time (Apple's "Timed Metadata for HTTP Live Streaming"): a stream_type 0x15
        // PID whose PES carries the tag at its time on the TS clock; ffprobe sees a timed_id3 stream there.
        var tsSegmentUrl = $"{Point}/{Path.GetDirectoryName(playlistUri)!.Replace('\\', '/')}/{HlsText.Segments(playlist)[1].Uri}";
        var tsSegment = await server.Http.GetByteArrayAsync(tsSegmentUrl);
        var tsReader = new PublishingPoint.Tests.Shared.TsPacketReader();
        tsReader.Read(tsSegment);
        Assert.Equal(0x15, tsReader.StreamTypes[0x102]);
        var tagPes = Assert.Single(tsReader.Pes, p => p.Pid == 0x102);
        Assert.Equal((0xBD, 1_125_000L), (tagPes.StreamId, tagPes.Pts));
        Assert.Equal(Id3Tag, tagPes.Payload);
        var probe = await Tool.RunCheckedAsync("ffprobe", ["-v", "error", "-select_streams", "d", "-of", "csv=p=0", "-show_entries", "stream=codec_name", server.Url(tsSegmentUrl).ToString()]);
        Assert.Equal("timed_id3", Assert.Single(probe.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct())); // listed under the program and on its own

        // hls.js reads the cues from the playlist and the timed ID3 from the TS segments as a real player would.
        var hlsJs = Chromium.NodeModule("hls.js", "dist/hls.min.js");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var url = server.Url($"{Point}/{playlistUri}");
        var (page, log) = await Chromium.OpenPlayerPageAsync(browser, url, "hls.min.js", hlsJs, $$"""
            <!doctype html><video id="v" muted></video><script src="hls.min.js"></script>
            <script>
              window.cues = null;
              window.id3 = [];
              const hls = new Hls();
              hls.on(Hls.Events.FRAG_PARSING_METADATA, (_, d) => {
                for (const s of d.samples) window.id3.push([String(s.pts), Array.from(s.data, b => b.toString(16).padStart(2, '0')).join('')]);
              });
              hls.on(Hls.Events.LEVEL_LOADED, (_, d) => {
                window.cues = Object.values(d.details.dateRanges).map(r => [r.id, r.attr['SCTE35-OUT'] || r.attr['SCTE35-IN'] || r.attr['SCTE35-CMD'] || r.attr['CLASS']]);
              });
              hls.loadSource('{{url}}');
              hls.attachMedia(document.getElementById('v'));
            </script>
            """);
        string[][]? cues = null;
        await Eventually.WaitUntilAsync(async () => (cues = await page.EvaluateAsync<string[][]?>("window.cues")) is not null,
            $"hls.js did not load the playlist: {string.Join('\n', log)}", poll: TimeSpan.FromMilliseconds(200));
        Assert.Equal(4, cues!.Length);
        Assert.Contains(cues, c => c[1] == "0x" + Convert.ToHexString(breakOut));
        Assert.Contains(cues, c => c[1] == Id3Scheme);
        string[][]? tags = null;
        await Eventually.WaitUntilAsync(async () => (tags = await page.EvaluateAsync<string[][]>("window.id3")).Length > 0,
            $"hls.js parsed no timed ID3: {string.Join('\n', log)}", poll: TimeSpan.FromMilliseconds(200));
        var sample = Assert.Single(tags!);
        Assert.Equal(Convert.ToHexStringLower(Id3Tag), sample[1]);
        Assert.Equal(2.5, double.Parse(sample[0], CultureInfo.InvariantCulture), 3); // on the player's timeline, which starts at the first frame

        // A restarted server recovers the point from its archive and still announces every event, in the same words.
        await server.DisposeAsync();
        await using var restarted = await RunningServer.StartAsync(server.DataPath);
        var recovered = await restarted.Http.GetStringAsync($"{Point}/{playlistUri}");
        Assert.Equal(
            HlsText.AttributeLines(playlist, "#EXT-X-DATERANGE").Select(l => string.Join(',', l.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal))),
            HlsText.AttributeLines(recovered, "#EXT-X-DATERANGE").Select(l => string.Join(',', l.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal))));
        Assert.Equal(tsSegment, await restarted.Http.GetByteArrayAsync(tsSegmentUrl));
    }

    /// <summary>A radio channel (audio only) with a cue: Smooth's sparse stream belongs to the audio StreamIndex, the one there is.</summary>
    [Fact]
    public async Task AnAudioOnlyPointsCues_BelongToItsAudioStream()
    {
        var stream = await IsmvCapture.AudioOnlyCmafAsync();
        var body = Insert(stream, Moofs(stream), new Dictionary<int, byte[][]> { [1] = [Emsg1(SpliceInsert(7, outOfNetwork: true, pts90k: 4 * 90_000, breakDuration90k: 2 * 90_000), 7, 4)] });

        await using var server = await RunningServer.StartAsync();
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/radio.isml/Streams(a)", body);
        Assert.True(status == System.Net.HttpStatusCode.OK, text);

        var smooth = XDocument.Parse(await server.Http.GetStringAsync("live/radio.isml/Manifest"));
        var audio = smooth.Descendants("StreamIndex").Single(e => (string?)e.Attribute("Type") == "audio");
        var sparse = smooth.Descendants("StreamIndex").Single(e => (string?)e.Attribute("Type") == "text");
        Assert.Equal((string?)audio.Attribute("Name"), (string?)sparse.Attribute("ParentStreamIndex"));
        Assert.Single(sparse.Elements("c"));
    }

    /// <summary>
    /// MPEG-TS ingest: ffmpeg's transport stream with a SCTE-35 PID added to its PMT (stream_type 0x86) and a
    /// splice_insert section on it, timed 4 s after the first video frame: the cue comes out as the same DATERANGE.
    /// </summary>
    [Fact]
    public async Task EventSchemeWithALineBreak_CannotForgeATag_OrALogLine_OrBreakTheMpd()
    {
        var log = new LogCapture(LogLevel.Information);
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(log), "--Serilog:MinimumLevel:Default=Information");
        // U+FFFE and U+FFFF (valid UTF-8, not XML characters): the MPD's writer refused them, a 500 for as long as the event was kept.
        var playlist = await PushWithEventAsync(server, "live/forged.isml", new EmsgBox(0, "urn:x\n#EXT-X-ENDLIST\n#EXT-X-X\uFFFE", "v\u0001\uFFFF", 1000, 500, 0, 9, [1, 2, 3]));
        Assert.Equal("urn:x?#EXT-X-ENDLIST?#EXT-X-X?", HlsText.AttributeLines(playlist, "#EXT-X-DATERANGE").Single().Attributes["CLASS"]);
        Assert.Contains(log.Entries, e => e.Message.Contains("urn:x?#EXT-X-ENDLIST", StringComparison.Ordinal));
        Assert.All(log.Entries, e => Assert.False(e.Message.Contains('\n', StringComparison.Ordinal), e.Message));
        Assert.DoesNotContain(playlist.Split('\n'), l => l.StartsWith("#EXT-X-X", StringComparison.Ordinal));
        Assert.Equal(1, playlist.Split('\n').Count(l => l == "#EXT-X-ENDLIST")); // the VOD's own end, once
        using var mpd = await server.Http.GetAsync("live/forged.isml/manifest.mpd");
        Assert.Equal(System.Net.HttpStatusCode.OK, mpd.StatusCode);
        XDocument.Parse(await mpd.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("urn:x:a\u0001b", "urn:x:a?b")]
    [InlineData("v\uFFFE\uFFFF", "v??")]
    [InlineData("caf\u00e9 \ud83d\ude00", "caf\u00e9 \ud83d\ude00")] // a pair is one character, kept
    public void EventText_KeepsWhatXmlAndALogLineCanHold(string text, string kept) =>
        Assert.Equal(kept, PublishingPoint.Server.Points.TimedEvent.Printable(text));

    [Fact]
    public void EventText_LoneSurrogates_AreReplaced() =>
        // Built here: an attribute's string is stored as UTF-8, which cannot hold them. A saved event's JSON can.
        Assert.Equal("?x?", PublishingPoint.Server.Points.TimedEvent.Printable(new string(['\ud800', 'x', '\udc00'])));

    [Fact]
    public async Task EventsFasterThanAPointKeepsThem_AreSkipped_AndTheKeptOnesStayWithinTheirBytes()
    {
        var stream = await IsmvCapture.CaptureAsync(Encoder.CmafPushArguments, new EncoderSettings { Seconds = 6, RealTime = false });
        var capture = new LogCapture();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<TimeProvider>(clock).AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(capture));
        var registry = server.Services.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>();

        // Three bodies a second apart on the server's clock, each with twenty 60 KB events (each body's later in media
        // time): eight a second are taken, and of the 24 taken the oldest go once their messages pass 1 MB.
        for (var round = 0; round < 3; round++)
        {
            var events = Enumerable.Range(0, 20).Select(i => new EmsgBox(1, "urn:x:flood", "", 1000, (round * 2000) + i, 0, (uint)((round * 100) + i), new byte[60 * 1024]).Write()).ToArray();
            var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/flood.isml/Streams(cmaf)", Insert(stream, Moofs(stream), new Dictionary<int, byte[][]> { [1] = events }));
            Assert.True(status == System.Net.HttpStatusCode.OK, text);
            Assert.Equal(8, registry.Find("live/flood.isml")!.Events().Count(e => e.Id / 100 == round));
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        var kept = registry.Find("live/flood.isml")!.Events();
        Assert.InRange(kept.Sum(e => e.Message.Length), 16 * 60 * 1024, 1024 * 1024);
        Assert.Contains(capture.Entries, e => e.Message.Contains("faster than a point keeps them", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EventTimedBeyondWhatTicksHold_IsSkipped_AndTheMediaKept()
    {
        await using var server = await RunningServer.StartAsync();
        var playlist = await PushWithEventAsync(server, "live/far.isml", new EmsgBox(1, "urn:x", "", 1, long.MaxValue / 2, 0, 9, [1])); // 4.6e18 s
        Assert.Empty(HlsText.AttributeLines(playlist, "#EXT-X-DATERANGE"));
        Assert.Equal(3, playlist.Split('\n').Count(l => l.StartsWith("#EXTINF", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Scte35SectionsInMpegTsIngest_BecomeDateRanges()
    {
        var folder = TempDirectory.Create("pp-scte35-ts");
        var source = Path.Combine(folder, "in.ts");
        await Tool.RunCheckedAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "8", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", source,
        ]);
        var firstPts = long.Parse((await Tool.ProbeAsync(source, "-select_streams", "v", "-read_intervals", "%+#1", "-show_entries", "packet=pts", "-of", "csv=p=0")).Split('\n')[0].Trim().TrimEnd(','), CultureInfo.InvariantCulture);
        var cue = SpliceInsert(3003, outOfNetwork: true, pts90k: firstPts + (4 * 90_000), breakDuration90k: 2 * 90_000);
        var stream = WithScte35(await File.ReadAllBytesAsync(source), cue);

        await using var server = await RunningServer.StartAsync();
        var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(ts)", stream);
        Assert.True(status == System.Net.HttpStatusCode.OK, text);

        var master = await server.Http.GetStringAsync($"{Point}/master.m3u8");
        var playlist = await server.Http.GetStringAsync($"{Point}/{HlsText.AttributeLines(master, "#EXT-X-STREAM-INF")[0].Uri}");
        var range = HlsText.AttributeLines(playlist, "#EXT-X-DATERANGE").Single().Attributes;
        Assert.Equal("0x" + Convert.ToHexString(cue), range["SCTE35-OUT"]);
        Assert.Equal("2", range["DURATION"]);
        var first = DateTimeOffset.Parse(HlsText.Tag(playlist, "#EXT-X-PROGRAM-DATE-TIME")!, CultureInfo.InvariantCulture);
        var offset = (DateTimeOffset.Parse(range["START-DATE"], CultureInfo.InvariantCulture) - first).TotalSeconds;
        Assert.InRange(offset, 4.0, 4.2); // the first segment starts at the first frame's decode time, a frame or two before its PTS
    }

    /// <summary>Adds a SCTE-35 elementary stream (PID 0x1F0) to every PMT of the stream and one packet with the section.</summary>
    private static byte[] WithScte35(byte[] ts, byte[] section)
    {
        const int SplicePid = 0x1F0;
        var pmtPid = -1;
        var output = new List<byte>(ts.Length + 188);
        for (var at = 0; at + 188 <= ts.Length; at += 188)
        {
            var packet = ts.AsSpan(at, 188).ToArray();
            var pid = ((packet[1] & 0x1F) << 8) | packet[2];
            if (pid == 0 && pmtPid < 0)
            {
                pmtPid = ((packet[4 + 1 + 10] & 0x1F) << 8) | packet[4 + 1 + 11]; // PAT: the first program's PMT PID
            }
            else if (pid == pmtPid)
            {
                AddStream(packet.AsSpan(5), SplicePid);
            }

            output.AddRange(packet);
            if (at == 188 * 60)
            {
                var cuePacket = Enumerable.Repeat((byte)0xFF, 188).ToArray();
                cuePacket[0] = 0x47;
                cuePacket[1] = (byte)(0x40 | (SplicePid >> 8));
                cuePacket[2] = SplicePid & 0xFF;
                cuePacket[3] = 0x10;
                cuePacket[4] = 0x00; // pointer_field
                section.CopyTo(cuePacket, 5);
                output.AddRange(cuePacket);
            }
        }

        return [.. output];
    }

    // ISO/IEC 13818-1 2.4.4.8: one more { stream_type, elementary_PID, ES_info_length } before the CRC, which is redone.
    private static void AddStream(Span<byte> pmt, int pid)
    {
        var sectionLength = ((pmt[1] & 0x0F) << 8) | pmt[2];
        var crcAt = 3 + sectionLength - 4;
        byte[] entry = [0x86, (byte)(0xE0 | (pid >> 8)), (byte)pid, 0xF0, 0x00];
        entry.CopyTo(pmt[crcAt..]);
        sectionLength += entry.Length;
        pmt[1] = (byte)((pmt[1] & 0xF0) | (sectionLength >> 8));
        pmt[2] = (byte)sectionLength;
        var end = 3 + sectionLength - 4;
        BinaryPrimitives.WriteUInt32BigEndian(pmt[end..], Crc32Mpeg2(pmt[..end].ToArray()));
    }

    private static byte[] Emsg1(byte[] section, uint id, int seconds) =>
        new EmsgBox(1, "urn:scte:scte35:2013:bin", "", 90_000, seconds * 90_000L, EmsgBox.UnknownDuration, id, section).Write();

    /// <summary>ANSI/SCTE 35 9.7.3 splice_insert() in a splice_info_section (program splice, no descriptors).</summary>
    private static byte[] SpliceInsert(uint eventId, bool outOfNetwork, long? pts90k, long? breakDuration90k)
    {
        var command = new List<byte>();
        command.AddRange(BigEndian(eventId));
        command.Add(0x7F); // splice_event_cancel_indicator 0, reserved
        var immediate = pts90k is null;
        command.Add((byte)((outOfNetwork ? 0x80 : 0) | 0x40 | (breakDuration90k is null ? 0 : 0x20) | (immediate ? 0x10 : 0) | 0x0F));
        if (pts90k is { } pts)
        {
            command.AddRange(SpliceTime(pts));
        }

        if (breakDuration90k is { } duration)
        {
            command.Add((byte)(0x80 | 0x7E | (int)(duration >> 32))); // auto_return, reserved, duration bit 32
            command.AddRange(BigEndian((uint)duration));
        }

        command.AddRange([0x00, 0x01, 0x00, 0x00]); // unique_program_id, avail_num, avails_expected
        return Section(0x05, [.. command]);
    }

    private static byte[] TimeSignal(long pts90k) => Section(0x06, SpliceTime(pts90k));

    private static byte[] SpliceTime(long pts) => [(byte)(0x80 | 0x7E | (int)(pts >> 32)), .. BigEndian((uint)pts)];

    /// <summary>ANSI/SCTE 35 9.6 splice_info_section with the command, no descriptors, and its CRC_32.</summary>
    private static byte[] Section(byte commandType, byte[] command)
    {
        var body = new List<byte> { 0x00 }; // protocol_version
        body.AddRange([0x00, 0x00, 0x00, 0x00, 0x00]); // encrypted_packet 0, algorithm 0, pts_adjustment 0
        body.Add(0xFF); // cw_index
        body.AddRange([0xFF, (byte)(0xF0 | (command.Length >> 8)), (byte)command.Length]); // tier 0xFFF, splice_command_length
        body.Add(commandType);
        body.AddRange(command);
        body.AddRange([0x00, 0x00]); // descriptor_loop_length
        var sectionLength = body.Count + 4;
        var section = new List<byte> { 0xFC, (byte)(0x30 | (sectionLength >> 8)), (byte)sectionLength };
        section.AddRange(body);
        section.AddRange(BigEndian(Crc32Mpeg2([.. section])));
        return [.. section];
    }

    private static uint Crc32Mpeg2(byte[] data)
    {
        var crc = 0xFFFF_FFFFu;
        foreach (var b in data)
        {
            crc ^= (uint)b << 24;
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000_0000) != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1;
            }
        }

        return crc;
    }

    private static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>
    /// What one encoder sends again and again is logged once a connection (a review's finding: each of 200 out-of-range
    /// events was a warning, each of 50 repeated identical 'moov's an information line, enough to make the bounded
    /// log sink drop other points' lines).
    /// </summary>
    [Fact]
    public async Task RepeatedOutOfRangeEvents_AndRepeatedHeaders_AreLoggedOnceAConnection()
    {
        var log = new LogCapture(LogLevel.Information);
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(log), "--Serilog:MinimumLevel:Default=Information");
        var stream = await IsmvCapture.CaptureAsync(Encoder.CmafPushArguments, new EncoderSettings { Seconds = 6, RealTime = false });
        var moov = Boxes.TopLevel(stream).Single(b => b.Type == "moov");
        var far = new EmsgBox(1, "urn:x:far", "", 1, long.MaxValue / 2, EmsgBox.UnknownDuration, 7, [1]).Write();
        var body = Insert(stream, Moofs(stream), new Dictionary<int, byte[][]>
        {
            [1] = [.. Enumerable.Repeat(far, 200)],
            [2] = [.. Enumerable.Repeat(stream[moov.Offset..(moov.Offset + moov.Size)], 50)],
        });
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/loud.isml/Streams(cmaf)", body);
        Assert.True(status == System.Net.HttpStatusCode.OK, text);

        Assert.Single(log.Entries, e => e.Message.Contains("urn:x:far", StringComparison.Ordinal) && e.Message.Contains("out of range", StringComparison.Ordinal));
        Assert.Single(log.Entries, e => e.Message.Contains("loud.isml", StringComparison.Ordinal) && e.Message.Contains(": tracks", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnEventStillInTheIndex_RidesInItsSegmentMadeAgain_After300NewerEventsAndARestart()
    {
        // An ID3 tag at 2.5 s; its TS and fMP4 segments are made (a CDN keeps them as immutable). Then 300 later events
        // of another scheme, eight a second on the server's clock, as hours of a channel's metadata would come, and a
        // restart: the segments made again must be the very same bytes.
        var stream = await IsmvCapture.CaptureAsync(Encoder.CmafPushArguments, new EncoderSettings { Seconds = 6, RealTime = false });
        var moofs = Moofs(stream);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var server = await RunningServer.StartAsync(null, services => services.AddSingleton<TimeProvider>(clock), "--PublishingPoint:FinalizeGraceSeconds=3600");
        var data = server.DataPath;
        var first = new Dictionary<string, byte[]>();
        try
        {
            var id3 = new EmsgBox(0, Id3Scheme, "", 1000, 500, 0, 7, Id3Tag);
            var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/kept.isml/Streams(cmaf)", Insert(stream, moofs, new Dictionary<int, byte[][]> { [1] = [id3.Write()] }));
            Assert.True(status == System.Net.HttpStatusCode.OK, text);
            foreach (var uri in await SegmentsAtAsync(server, "live/kept.isml", 2.5))
            {
                first[uri] = await server.Http.GetByteArrayAsync(uri);
                Assert.True(CarriesTag(uri, first[uri]), $"{uri} lacks the tag when first made");
            }

            Assert.Equal(2, first.Count);
            for (var round = 0; round < 38; round++)
            {
                clock.Advance(TimeSpan.FromSeconds(1));
                var later = Enumerable.Range(0, 8).Select(i => new EmsgBox(1, "urn:x:later", "", 1000, 5000 + (round * 8) + i, 0, (uint)((round * 8) + i), [1, 2, 3]).Write()).ToArray();
                (status, text) = await Posting.PostChunkedAsync(server.Http, "live/kept.isml/Streams(cmaf)", Insert(stream, moofs, new Dictionary<int, byte[][]> { [1] = later }));
                Assert.True(status == System.Net.HttpStatusCode.OK, text);
            }
        }
        finally
        {
            await server.DisposeAsync();
        }

        await using var restarted = await RunningServer.StartAsync(data, "--PublishingPoint:FinalizeGraceSeconds=3600");
        foreach (var (uri, bytes) in first)
        {
            var again = await restarted.Http.GetByteArrayAsync(uri);
            Assert.True(bytes.AsSpan().SequenceEqual(again), $"{uri}: {bytes.Length} bytes first, {again.Length} made again");
        }
    }

    [Fact]
    public async Task APointThatCarriedAnId3Tag_DeclaresItsStream_AfterTheTagAgedOutAndARestart()
    {
        // An ID3 tag at 2.5 s of a 40 s push whose archive keeps 10 s (10 s files); an event of another scheme at 36 s
        // comes once the tag's media was deleted, and the tag goes with it. TS segments declare the tag stream once a
        // point carried one (the program map stays the same): a segment made again after a restart must still.
        var stream = await IsmvCapture.CaptureAsync(Encoder.CmafPushArguments, new EncoderSettings { Seconds = 40, RealTime = false });
        var moofs = Moofs(stream);
        var settings = new[] { "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:ArchiveSegmentSeconds=10", "--PublishingPoint:ArchiveLengthSeconds=10" };
        var server = await RunningServer.StartAsync(null, settings);
        var data = server.DataPath;
        var first = new Dictionary<string, byte[]>();
        try
        {
            var events = new Dictionary<int, byte[][]>
            {
                [1] = [new EmsgBox(0, Id3Scheme, "", 1000, 500, 0, 7, Id3Tag).Write()],
                [moofs.Count - 3] = [new EmsgBox(1, "urn:x:late", "", 1000, 36_000, 0, 8, [1]).Write()],
            };
            var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/aged.isml/Streams(cmaf)", Insert(stream, moofs, events));
            Assert.True(status == System.Net.HttpStatusCode.OK, text);
            var kept = server.Services.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>().Find("live/aged.isml")!.Events();
            Assert.Equal(["urn:x:late"], kept.Select(e => e.Scheme));
            var master = await server.Http.GetStringAsync("live/aged.isml/master.m3u8");
            var playlistUri = HlsText.AttributeLines(master, "#EXT-X-STREAM-INF")[0].Uri!;
            var playlist = await server.Http.GetStringAsync($"live/aged.isml/{playlistUri}");
            foreach (var uri in new[] { $"live/aged.isml/{playlistUri[..(playlistUri.LastIndexOf('/') + 1)]}{HlsText.Segments(playlist)[^1].Uri}" })
            {
                first[uri] = await server.Http.GetByteArrayAsync(uri);
                var reader = new PublishingPoint.Tests.Shared.TsPacketReader();
                reader.Read(first[uri]);
                Assert.Equal(0x15, reader.StreamTypes[0x102]);
            }

            Assert.Single(first);
        }
        finally
        {
            await server.DisposeAsync();
        }

        await using var restarted = await RunningServer.StartAsync(data, settings);
        foreach (var (uri, bytes) in first)
        {
            var again = await restarted.Http.GetByteArrayAsync(uri);
            Assert.True(bytes.AsSpan().SequenceEqual(again), $"{uri}: {bytes.Length} bytes first, {again.Length} made again");
        }
    }

    // A TS segment carries the tag as a PES of its own (spread over packets), an fMP4 one inside an 'emsg'.
    private static bool CarriesTag(string uri, byte[] segment)
    {
        if (!uri.EndsWith(".ts", StringComparison.Ordinal))
        {
            return segment.AsSpan().IndexOf(Id3Tag) >= 0;
        }

        var reader = new PublishingPoint.Tests.Shared.TsPacketReader();
        reader.Read(segment);
        return reader.Pes.Any(p => p.Pid == 0x102 && p.Payload.AsSpan().SequenceEqual(Id3Tag));
    }

    /// <summary>The URIs (from the point) of the TS and fMP4 video segments of the first variant that hold <paramref name="seconds"/>.</summary>
    private static async Task<List<string>> SegmentsAtAsync(RunningServer server, string point, double seconds)
    {
        var master = await server.Http.GetStringAsync($"{point}/master.m3u8");
        var ts = HlsText.AttributeLines(master, "#EXT-X-STREAM-INF").Select(l => l.Uri!).First(u => !u.EndsWith("-fmp4.m3u8", StringComparison.Ordinal));
        var uris = new List<string>();
        foreach (var playlistUri in new[] { ts, ts.Replace(".m3u8", "-fmp4.m3u8", StringComparison.Ordinal) })
        {
            var playlist = await server.Http.GetStringAsync($"{point}/{playlistUri}");
            var start = 0.0;
            foreach (var (duration, uri) in HlsText.Segments(playlist))
            {
                if (seconds >= start && seconds < start + duration)
                {
                    uris.Add($"{point}/{playlistUri[..(playlistUri.LastIndexOf('/') + 1)]}{uri}");
                    break;
                }

                start += duration;
            }
        }

        return uris;
    }

    /// <summary>6 s of CMAF with <paramref name="emsg"/> before its second fragment, pushed whole; its first media playlist.</summary>
    private static async Task<string> PushWithEventAsync(RunningServer server, string point, EmsgBox emsg)
    {
        var stream = await IsmvCapture.CaptureAsync(Encoder.CmafPushArguments, new EncoderSettings { Seconds = 6, RealTime = false });
        var body = Insert(stream, Moofs(stream), new Dictionary<int, byte[][]> { [1] = [emsg.Write()] });
        var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{point}/Streams(cmaf)", body);
        Assert.True(status == System.Net.HttpStatusCode.OK, text);
        var master = await server.Http.GetStringAsync($"{point}/master.m3u8");
        return await server.Http.GetStringAsync($"{point}/" + HlsText.AttributeLines(master, "#EXT-X-STREAM-INF")[0].Uri!);
    }

    private static List<int> Moofs(byte[] stream)
    {
        var offsets = new List<int>();
        for (var at = 0; at + 8 <= stream.Length;)
        {
            var size = (int)BinaryPrimitives.ReadUInt32BigEndian(stream.AsSpan(at));
            if (stream.AsSpan(at + 4, 4).SequenceEqual("moof"u8))
            {
                offsets.Add(at);
            }

            at += size;
        }

        return offsets;
    }

    private static byte[] Insert(byte[] stream, List<int> moofs, Dictionary<int, byte[][]> before)
    {
        var output = new List<byte>(stream.Length + 1024);
        var from = 0;
        foreach (var (index, boxes) in before.OrderBy(b => b.Key))
        {
            output.AddRange(stream.AsSpan(from, moofs[index] - from).ToArray());
            foreach (var box in boxes)
            {
                output.AddRange(box);
            }

            from = moofs[index];
        }

        output.AddRange(stream.AsSpan(from).ToArray());
        return [.. output];
    }
}
