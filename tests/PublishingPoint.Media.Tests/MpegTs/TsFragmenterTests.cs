using System.Buffers;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.MpegTs;

namespace PublishingPoint.Media.Tests.MpegTs;

public class TsFragmenterTests
{
    private static byte[] Mux(TsSample[] video, TsSample[] audio)
    {
        var writer = new TsSegmentWriter(SyntheticStream.Video, SyntheticStream.Audio);
        var output = new ArrayBufferWriter<byte>();
        writer.WriteSegment(video, audio, new TsContinuityCounters(), output);
        return output.WrittenSpan.ToArray();
    }

    private static FragmentCollector Fragment(byte[] ts, TsFragmenterOptions? options = null)
    {
        var collector = new FragmentCollector();
        var fragmenter = new TsFragmenter(collector, options);
        for (var at = 0; at < ts.Length; at += 777)
        {
            fragmenter.Push(ts.AsSpan(at, Math.Min(777, ts.Length - at)));
        }

        fragmenter.Flush();
        return collector;
    }

    [Fact]
    public void VideoWithoutLaterKeyframesIsCutAtTheDurationBound()
    {
        // One keyframe, then 24 s of frames that never give a place to cut: held at most 5 s at a time.
        var video = SyntheticStream.VideoSamples(0, 600, keyEvery: int.MaxValue);
        var collector = Fragment(Mux(video, []), new TsFragmenterOptions { MaxFragmentDuration90k = 5 * 90_000 });

        var fragments = collector.FragmentsOf(1);
        Assert.Equal(600, fragments.Sum(f => f.SampleCount));
        Assert.All(fragments, f => Assert.InRange(f.Duration, 1, 5 * 90_000));
        Assert.True(fragments.Count >= 5);
    }

    [Fact]
    public void VideoWithoutLaterKeyframesIsCutAtTheSizeBound()
    {
        var video = SyntheticStream.VideoSamples(0, 300, keyEvery: int.MaxValue);
        var collector = Fragment(Mux(video, []), new TsFragmenterOptions { MaxFragmentBytes = 20_000 });

        var fragments = collector.FragmentsOf(1);
        Assert.Equal(300, fragments.Sum(f => f.SampleCount));
        Assert.All(fragments, f => Assert.True(f.Data.Length < 20_000 + 8_000, $"{f.Data.Length} bytes"));
    }

    /// <summary>
    /// Access units that all carry one decode time are moved on a tick each (decode time never stands still), so
    /// 25,000 tiny ones fit in a third of a second and were held as one fragment: its per-sample tables (33 bytes a
    /// sample, more than the data) grew without bound and uncounted. Now a fragment holds at most 10,000 samples, and
    /// the tables count in the fragmenter's buffer capacity (what ingest accounts as held media).
    /// </summary>
    [Fact]
    public void TinyAccessUnitsAtOneDecodeTime_AreCutAtTheSampleBound_AndTheirTablesCount()
    {
        var key = SyntheticStream.VideoSamples(0, 1)[0];
        var tiny = Codecs.H264.AnnexBTests.Avcc(4, [0x41, 0x9a]);
        TsSample[] video = [key, .. Enumerable.Range(0, 25_000).Select(_ => new TsSample(key.Dts90k, key.Dts90k, false, tiny))];
        var ts = Mux(video, []);

        var collector = new FragmentCollector();
        var fragmenter = new TsFragmenter(collector);
        var before = fragmenter.BufferCapacity;
        fragmenter.Push(ts.AsSpan(0, ts.Length / 4 / 188 * 188));
        Assert.True(fragmenter.BufferCapacity - before > 6_000L * 17, $"{fragmenter.BufferCapacity - before} bytes counted for over 6,000 samples held");
        fragmenter.Push(ts.AsSpan(ts.Length / 4 / 188 * 188));
        fragmenter.Flush();

        var fragments = collector.FragmentsOf(1);
        Assert.Equal(25_001, fragments.Sum(f => f.SampleCount));
        Assert.All(fragments, f => Assert.InRange(f.SampleCount, 1, 10_000));
    }

    /// <summary>
    /// Every audio frame behind the frames already placed was placed one frame on: after one frame whose time jumped
    /// 5 s ahead, the rest of the push's audio stayed 5 s behind the picture (a review's finding). A frame that jumps
    /// ahead waits for the next: when that one goes on from before the jump, the jumped frame is put in its place.
    /// </summary>
    [Fact]
    public void OneAudioFrameThatJumpsAhead_DoesNotPutTheRestOfTheAudioBehindThePicture()
    {
        var video = SyntheticStream.VideoSamples(0, 250); // 10 s
        var audio = SyntheticStream.AudioSamples(0, 469);
        audio[100] = audio[100] with { Pts90k = audio[100].Pts90k + 450_000, Dts90k = audio[100].Dts90k + 450_000 };
        var collector = Fragment(Mux(video, audio));

        var audioFragments = collector.FragmentsOf(2);
        var audioEnd = audioFragments[^1].DecodeTime + audioFragments[^1].Duration;
        var trueEnd = (audio[^1].Pts90k + SyntheticStream.AudioFrameTicks) * 48_000 / 90_000;
        Assert.InRange(audioEnd - trueEnd, -1024, 1024);
        Assert.Equal(audio.Length, audioFragments.Sum(f => f.SampleCount)); // the bad frame's sound too, in its place
    }

    /// <summary>A real gap in the audio (a frame 5 s on, and the ones after it going on from there) stays a gap.</summary>
    [Fact]
    public void AGapInTheAudio_StaysAGap()
    {
        var video = SyntheticStream.VideoSamples(0, 250);
        var audio = SyntheticStream.AudioSamples(0, 469).Select((a, i) => i >= 100 ? a with { Pts90k = a.Pts90k + 450_000, Dts90k = a.Dts90k + 450_000 } : a).Where(a => a.Pts90k < 900_000 + (250 * SyntheticStream.FrameTicks) + 450_000).ToArray();
        var collector = Fragment(Mux(video, audio));

        var audioFragments = collector.FragmentsOf(2);
        var audioEnd = audioFragments[^1].DecodeTime + audioFragments[^1].Duration;
        var trueEnd = (audio[^1].Pts90k + SyntheticStream.AudioFrameTicks) * 48_000 / 90_000;
        Assert.InRange(audioEnd - trueEnd, -1024, 1024);
        Assert.Equal(audio.Length, audioFragments.Sum(f => f.SampleCount));
    }

    [Fact]
    public void CutsVideoAtKeyframesAfterTheTargetAndAudioAtTheSameTime()
    {
        // keyframes every 25 frames (1 s); target 1.5 s: cuts at 2 s and 4 s; 110 frames = 4.4 s
        var video = SyntheticStream.VideoSamples(0, 110);
        var audio = SyntheticStream.AudioSamples(0, 230);
        var collector = Fragment(Mux(video, audio), new TsFragmenterOptions { TargetDuration90k = 135_000, WithStyp = true });

        var videoTrack = Assert.Single(MovieReader.Read(collector.Inits[1][0].AsMemory(MovieWriter.FtypLength)));
        Assert.Equal(TrackKind.Video, videoTrack.Kind);
        Assert.Equal(90_000u, videoTrack.Timescale);
        var audioTrack = Assert.Single(MovieReader.Read(collector.Inits[2][0].AsMemory(MovieWriter.FtypLength)));
        Assert.Equal(48_000u, audioTrack.Timescale);
        Assert.Equal(SyntheticStream.Audio.Bytes.ToArray(), audioTrack.DecoderConfig);

        var fragments = collector.FragmentsOf(1);
        Assert.Equal([50, 50, 10], fragments.Select(f => f.SampleCount));
        Assert.Equal([video[0].Dts90k, video[50].Dts90k, video[100].Dts90k], fragments.Select(f => f.DecodeTime));
        Assert.Equal([180_000L, 180_000L, 36_000L], fragments.Select(f => f.Duration));
        Assert.All(fragments, f => Assert.True(f.StartsWithKeyframe));
        Assert.Equal([1u, 2u, 3u], fragments.Select(f => f.SequenceNumber));

        foreach (var fragment in fragments)
        {
            var span = fragment.Data.Span;
            var top = new BoxReader(span);
            Assert.True(top.TryNext());
            Assert.Equal(BoxTypes.Styp, top.Header.Type);
            Assert.True(top.TryNext());
            var parsed = Assert.Single(MovieFragmentReader.Read(top.Box));
            Assert.Equal(fragment.SampleCount, parsed.SampleCount);
            Assert.Equal(fragment.Duration, parsed.SummedDuration);
            Assert.Equal(fragment.DecodeTime, parsed.DecodeTime);
        }

        // Audio: as many fragments as video (same numbering), cut at the presentation time of the keyframes.
        var audioFragments = collector.FragmentsOf(2);
        var boundaries = new[] { video[50].Pts90k, video[100].Pts90k }.Select(t => t * 48_000 / 90_000).ToList();
        Assert.Equal(3, audioFragments.Count);
        for (var i = 1; i < audioFragments.Count; i++)
        {
            Assert.InRange(audioFragments[i].DecodeTime - boundaries[i - 1], 0, 1023);
            Assert.Equal(audioFragments[i - 1].DecodeTime + audioFragments[i - 1].Duration, audioFragments[i].DecodeTime);
        }

        Assert.Equal(audio.Length, audioFragments.Sum(f => f.SampleCount));
        Assert.Equal(audio.Length * 1024L, audioFragments.Sum(f => f.Duration));
    }

    [Fact]
    public void FragmentBytesHoldTheAccessUnitsInOrder()
    {
        var video = SyntheticStream.VideoSamples(0, 30);
        var collector = Fragment(Mux(video, []));
        Assert.False(collector.Inits.ContainsKey(2));
        var fragments = collector.FragmentsOf(1);
        Assert.Equal(30, fragments.Sum(f => f.SampleCount));

        var first = fragments[0].Data.Span;
        BoxHeader.TryRead(first, out var moof);
        var parsed = Assert.Single(MovieFragmentReader.Read(first[..(int)moof.Size]));
        var sample0 = video[0].Data.Span;
        Assert.Equal(sample0[4..].TrimEnd((byte)0).ToArray(), first.Slice((int)parsed.DataOffset + 4, sample0.Length - 4).TrimEnd((byte)0).ToArray());
    }
}

public class TsFragmenterConfigurationChangeTests
{
    [Fact]
    public void ANewSpsIsReportedAndStartsANewFragmentAfterANewInitSegment()
    {
        var fullHd = Codecs.H264.AvcDecoderConfigurationTests.FullHdAvcC;
        var second = PublishingPoint.Media.Codecs.H264.AvcDecoderConfiguration.Parse(Convert.FromHexString(fullHd));
        var output = new ArrayBufferWriter<byte>();
        var counters = new TsContinuityCounters();
        new TsSegmentWriter(SyntheticStream.Video, SyntheticStream.Audio)
            .WriteSegment(SyntheticStream.VideoSamples(0, 30), SyntheticStream.AudioSamples(0, 55), counters, output);
        new TsSegmentWriter(second, SyntheticStream.Audio)
            .WriteSegment(SyntheticStream.VideoSamples(30, 40), SyntheticStream.AudioSamples(55, 75), counters, output);

        var sink = new RecordingDemuxerSink();
        var demuxer = new TsDemuxer(sink);
        demuxer.Push(output.WrittenSpan);
        demuxer.Flush();
        Assert.Equal([false, true], sink.VideoConfigs.Select(c => c.Changed));
        Assert.Equal(1920, sink.VideoConfigs[1].Config.Width);

        var collector = new FragmentCollector();
        var fragmenter = new TsFragmenter(collector, new TsFragmenterOptions { TargetDuration90k = 10 * 90_000 });
        fragmenter.Push(output.WrittenSpan);
        fragmenter.Flush();
        var inits = collector.Inits[1];
        Assert.Equal(2, inits.Count);
        Assert.Equal(1920, Assert.Single(MovieReader.Read(inits[1].AsMemory(MovieWriter.FtypLength))).Width);

        // The first frame with the new SPS is the keyframe of frame 50 (frames 30..49 still use the old PPS/SPS).
        var fragments = collector.FragmentsOf(1);
        Assert.Equal([50, 20], fragments.Select(f => f.SampleCount));
        Assert.Equal(SyntheticStream.VideoSamples(50, 1)[0].Dts90k, fragments[1].DecodeTime);
    }
}
