using System.Globalization;
using System.Text.Json;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.MpegTs;
using PublishingPoint.Media.Tests.MpegTs;

namespace PublishingPoint.Media.Tests.EndToEnd;

/// <summary>An ffmpeg-made transport stream through TsFragmenter; ffprobe/ffmpeg decode each track's fMP4.</summary>
public sealed class TsIngestRoundTripTests : IDisposable
{
    private const uint VideoTrack = 1;
    private const uint AudioTrack = 2;
    private readonly string _directory = Directory.CreateTempSubdirectory("pp-tsin-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private byte[] MakeTs(params string[] streams)
    {
        var ts = Path.Combine(_directory, "source.ts");
        List<string> args = ["-v", "error", "-y"];
        if (streams.Contains("video"))
        {
            args.AddRange(["-f", "lavfi", "-i", "testsrc=size=320x180:rate=25"]);
        }

        if (streams.Contains("audio"))
        {
            args.AddRange(["-f", "lavfi", "-i", "sine=sample_rate=48000"]);
        }

        args.AddRange(["-t", "6"]);
        if (streams.Contains("video"))
        {
            args.AddRange(["-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "50"]);
        }

        if (streams.Contains("audio"))
        {
            args.AddRange(["-c:a", "aac"]);
        }

        args.AddRange(["-f", "mpegts", ts]);
        ExternalTool.Run("ffmpeg", [.. args]);
        return File.ReadAllBytes(ts);
    }

    private static FragmentCollector Feed(ReadOnlySpan<byte> ts, int seed) => Feed(ts, seed, out _);

    private static FragmentCollector Feed(ReadOnlySpan<byte> ts, int seed, out TsDemuxer demuxer)
    {
        var collector = new FragmentCollector();
        var fragmenter = new TsFragmenter(collector);
        demuxer = fragmenter.Demuxer;
        var random = new Random(seed);
        while (!ts.IsEmpty)
        {
            var size = Math.Min(ts.Length, random.Next(4) == 0 ? random.Next(1, 16) : random.Next(1, 20_000));
            fragmenter.Push(ts[..size]);
            ts = ts[size..];
        }

        fragmenter.Flush();
        return collector;
    }

    private (int Frames, double Duration) Probe(byte[] file, string name)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, file);
        Assert.Equal(string.Empty, ExternalTool.Run("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").StdErr);
        var (json, err) = ExternalTool.Run("ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", path);
        Assert.Equal(string.Empty, err);
        using var doc = JsonDocument.Parse(json);
        var stream = Assert.Single(doc.RootElement.GetProperty("streams").EnumerateArray());
        var frames = int.Parse(stream.GetProperty("nb_read_frames").GetString()!, CultureInfo.InvariantCulture);
        var format = doc.RootElement.GetProperty("format");
        var duration = double.Parse(format.GetProperty("duration").GetString()!, CultureInfo.InvariantCulture)
            - double.Parse(format.GetProperty("start_time").GetString()!, CultureInfo.InvariantCulture);
        return (frames, duration);
    }

    [Fact]
    public void RandomChunksGiveDecodableTracksWithEveryFrame()
    {
        var ts = MakeTs("video", "audio");
        var collector = Feed(ts, seed: 1);

        var (videoFrames, _) = Probe(collector.File(VideoTrack), "video.mp4");
        Assert.Equal(150, videoFrames);
        var (audioFrames, audioDuration) = Probe(collector.File(AudioTrack), "audio.mp4");
        Assert.InRange(audioDuration, 5.9, 6.1);
        Assert.InRange(audioFrames, 280, 283);

        var video = collector.FragmentsOf(VideoTrack);
        Assert.Equal(3, video.Count);
        Assert.All(video, f => Assert.True(f.StartsWithKeyframe));
        Assert.Equal([50, 50, 50], video.Select(f => f.SampleCount));
        for (var i = 1; i < video.Count; i++)
        {
            Assert.Equal(video[i - 1].DecodeTime + video[i - 1].Duration, video[i].DecodeTime);
            Assert.Equal((uint)(i + 1), video[i].SequenceNumber);
        }

        // Audio fragments are contiguous and start where the video fragments start (presentation), within a frame.
        var audio = collector.FragmentsOf(AudioTrack);
        for (var i = 1; i < audio.Count; i++)
        {
            Assert.Equal(audio[i - 1].DecodeTime + audio[i - 1].Duration, audio[i].DecodeTime);
        }

        var videoInit = MovieReader.Read(collector.Inits[VideoTrack][0].AsMemory(MovieWriter.FtypLength));
        var audioInit = MovieReader.Read(collector.Inits[AudioTrack][0].AsMemory(MovieWriter.FtypLength));
        Assert.Equal(320, videoInit[0].Width);
        Assert.Equal(180, videoInit[0].Height);
        Assert.Equal(48_000, audioInit[0].SampleRate);
        Assert.Equal(48_000u, audioInit[0].Timescale);

        foreach (var fragment in video.Skip(1))
        {
            var firstPts90k = FirstPresentationTime(fragment);
            var boundary = firstPts90k * 48_000 / 90_000;
            Assert.Contains(audio, a => a.DecodeTime >= boundary && a.DecodeTime - boundary < 1024);
        }
    }

    [Fact]
    public void StartingMidPacketAndMidGopSkipsToTheNextKeyframe()
    {
        var ts = MakeTs("video", "audio");
        var start = (ts.Length / 6) + 101;
        var collector = Feed(ts.AsSpan(start), seed: 2);

        var (videoFrames, _) = Probe(collector.File(VideoTrack), "video.mp4");
        Assert.Equal(100, videoFrames);
        var (_, audioDuration) = Probe(collector.File(AudioTrack), "audio.mp4");
        Assert.InRange(audioDuration, 4, 6);
        Assert.True(collector.FragmentsOf(VideoTrack)[0].StartsWithKeyframe);
    }

    [Fact]
    public void UnknownPidsAndGarbageBetweenPacketsAreSurvived()
    {
        var ts = MakeTs("video", "audio");
        var random = new Random(3);
        using var damaged = new MemoryStream();
        var junkPacket = new byte[188];
        for (var at = 0; at < ts.Length; at += 188)
        {
            damaged.Write(ts, at, Math.Min(188, ts.Length - at));
            if (random.Next(20) == 0)
            {
                // a packet on a PID no table mentions
                random.NextBytes(junkPacket);
                junkPacket[0] = 0x47;
                junkPacket[1] = 0x1F;
                junkPacket[2] = 0xF0;
                junkPacket[3] = 0x10;
                damaged.Write(junkPacket);
            }

            if (random.Next(400) == 0)
            {
                var garbage = new byte[random.Next(1, 300)];
                random.NextBytes(garbage);
                damaged.Write(garbage);
            }
        }

        var collector = Feed(damaged.ToArray(), seed: 4, out var demuxer);
        Assert.True(demuxer.SyncLosses > 0);
        Assert.Equal(0, demuxer.TimestampDiscontinuities);

        var (videoFrames, _) = Probe(collector.File(VideoTrack), "video.mp4");
        Assert.InRange(videoFrames, 50, 150);
        var (_, audioDuration) = Probe(collector.File(AudioTrack), "audio.mp4");
        Assert.InRange(audioDuration, 4, 6.1);
    }

    [Fact]
    public void VideoOnlyAndAudioOnlyStreamsAreFragmented()
    {
        var videoOnly = Feed(MakeTs("video"), seed: 5);
        Assert.False(videoOnly.Inits.ContainsKey(AudioTrack));
        Assert.Equal(150, Probe(videoOnly.File(VideoTrack), "v.mp4").Frames);

        var audioOnly = Feed(MakeTs("audio"), seed: 6);
        Assert.False(audioOnly.Inits.ContainsKey(VideoTrack));
        Assert.InRange(Probe(audioOnly.File(AudioTrack), "a.mp4").Duration, 5.9, 6.1);
        var fragments = audioOnly.FragmentsOf(AudioTrack);
        Assert.InRange(fragments.Count, 3, 4);
        Assert.All(fragments.SkipLast(1), f => Assert.InRange(f.Duration, 96_000, 96_000 + 1024));
    }

    private static long FirstPresentationTime(MediaFragment fragment)
    {
        var moofLength = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(fragment.Data.Span);
        var moof = fragment.Data.Span[..moofLength];
        var traf = MovieReader.Child(moof[8..], BoxTypes.Traf);
        var run = new TrackRunReader(MovieReader.Child(traf, BoxTypes.Trun), default);
        Assert.True(run.TryNext(out var first));
        return fragment.DecodeTime + first.CompositionOffset;
    }
}
