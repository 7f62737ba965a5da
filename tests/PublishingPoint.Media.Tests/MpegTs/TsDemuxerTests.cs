using System.Buffers;
using System.Buffers.Binary;
using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.MpegTs;

namespace PublishingPoint.Media.Tests.MpegTs;

public class TsDemuxerTests
{
    private const int Packet = TsConstants.PacketLength;

    private static byte[] Mux(TsSample[] video, TsSample[] audio)
    {
        var writer = new TsSegmentWriter(SyntheticStream.Video, SyntheticStream.Audio);
        var output = new ArrayBufferWriter<byte>();
        writer.WriteSegment(video, audio, new TsContinuityCounters(), output);
        return output.WrittenSpan.ToArray();
    }

    private static (RecordingDemuxerSink Sink, TsDemuxer Demuxer) Demux(ReadOnlySpan<byte> ts, int chunk = 1000)
    {
        var sink = new RecordingDemuxerSink();
        var demuxer = new TsDemuxer(sink);
        while (!ts.IsEmpty)
        {
            var size = Math.Min(chunk, ts.Length);
            demuxer.Push(ts[..size]);
            ts = ts[size..];
        }

        demuxer.Flush();
        return (sink, demuxer);
    }

    private static byte[] Nal(byte[] avcc)
    {
        var length = BinaryPrimitives.ReadInt32BigEndian(avcc);
        Assert.Equal(avcc.Length - 4, length); // one NAL unit: AUD, SPS, PPS removed
        return avcc[4..];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(188)]
    [InlineData(5000)]
    public void GivesBackWhatTheMuxerWrote(int chunk)
    {
        var video = SyntheticStream.VideoSamples(0, 60);
        var audio = SyntheticStream.AudioSamples(0, 110);
        var (sink, demuxer) = Demux(Mux(video, audio), chunk);

        Assert.Equal([(true, true)], sink.Programs);
        var config = Assert.Single(sink.VideoConfigs);
        Assert.False(config.Changed);
        Assert.Equal(SyntheticStream.Video.SequenceParameterSets[0].ToArray(), config.Config.SequenceParameterSets[0].ToArray());
        Assert.Equal(SyntheticStream.Video.PictureParameterSets[0].ToArray(), config.Config.PictureParameterSets[0].ToArray());
        var audioConfig = Assert.Single(sink.AudioConfigs);
        Assert.Equal(SyntheticStream.Audio.Bytes.ToArray(), audioConfig.Config.Bytes.ToArray());

        Assert.Equal(video.Length, sink.Video.Count);
        for (var i = 0; i < video.Length; i++)
        {
            Assert.Equal(video[i].Dts90k, sink.Video[i].Dts);
            Assert.Equal(video[i].Pts90k, sink.Video[i].Pts);
            Assert.Equal(video[i].IsKeyframe, sink.Video[i].IsKeyframe);
            Assert.Equal(video[i].Data.Span[4..].TrimEnd((byte)0).ToArray(), Nal(sink.Video[i].Data));
        }

        Assert.Equal(audio.Length, sink.Audio.Count);
        for (var i = 0; i < audio.Length; i++)
        {
            Assert.Equal(audio[i].Pts90k, sink.Audio[i].Pts);
            Assert.Equal(audio[i].Data.ToArray(), sink.Audio[i].Data);
        }

        Assert.Equal(0, demuxer.ContinuityErrors);
        Assert.Equal(0, demuxer.SyncLosses);
        Assert.Equal(0, demuxer.DroppedPes);
    }

    /// <summary>
    /// The AVC output buffer grows to the largest access unit and stays, beside the PES buffer that held it: ingest
    /// counts the demuxer's buffers as media a connection holds, so both count (a review found the output left out).
    /// </summary>
    [Fact]
    public void ALargeAccessUnit_CountsInBothThePesAndTheOutputBuffers()
    {
        var key = SyntheticStream.VideoSamples(0, 1)[0];
        var nal = new byte[1_000_000];
        nal[0] = 0x65;
        nal.AsSpan(1).Fill(0x5a);
        TsSample[] video = [new TsSample(key.Dts90k, key.Pts90k, true, Codecs.H264.AnnexBTests.Avcc(4, nal)), .. SyntheticStream.VideoSamples(1, 2)];

        var (sink, demuxer) = Demux(Mux(video, []));

        Assert.Contains(sink.Video, unit => unit.Data.Length > nal.Length);
        Assert.True(demuxer.BufferCapacity >= 2L * nal.Length, $"{demuxer.BufferCapacity} bytes of buffers counted after a {nal.Length}-byte access unit");
    }

    [Fact]
    public void StartingMidStreamDropsUntilAPesStartAndAnIdr()
    {
        var ts = Mux(SyntheticStream.VideoSamples(0, 60), SyntheticStream.AudioSamples(0, 110));
        var (sink, demuxer) = Demux(ts.AsSpan((20 * Packet) + 77));

        // PAT/PMT are only at the start of the segment: nothing is known, nothing comes out.
        Assert.Empty(sink.Video);
        Assert.True(demuxer.SyncLosses == 0 && demuxer.Packets > 0);

        // With the tables first (as a repeating muxer sends them), output starts at the keyframe of frame 25.
        var tables = ts.AsSpan(0, 2 * Packet).ToArray();
        var (resumed, _) = Demux([.. tables, .. ts.AsSpan(20 * Packet)]);
        Assert.True(resumed.Video[0].IsKeyframe);
        Assert.Equal(SyntheticStream.VideoSamples(25, 1)[0].Dts90k, resumed.Video[0].Dts);
        Assert.Equal(35, resumed.Video.Count);
        Assert.NotEmpty(resumed.Audio);
    }

    [Fact]
    public void ALostVideoPacketDropsItsPesAndVideoResumesAtTheNextIdr()
    {
        var video = SyntheticStream.VideoSamples(0, 60);
        var audio = SyntheticStream.AudioSamples(0, 110);
        var ts = Mux(video, audio);
        var videoPackets = Enumerable.Range(0, ts.Length / Packet)
            .Where(i => (BinaryPrimitives.ReadUInt16BigEndian(ts.AsSpan((i * Packet) + 1)) & 0x1FFF) == TsConstants.VideoPid)
            .ToList();
        var lost = videoPackets[videoPackets.Count / 4];
        var (sink, demuxer) = Demux([.. ts.AsSpan(0, lost * Packet), .. ts.AsSpan((lost + 1) * Packet)]);

        Assert.Equal(1, demuxer.ContinuityErrors);
        Assert.True(sink.Video.Count is > 25 and < 60);
        var resumed = sink.Video.FindIndex(u => u.IsKeyframe && u.Dts > video[0].Dts90k);
        Assert.Equal(video[25].Dts90k, sink.Video[resumed].Dts);
        Assert.Equal(video.Skip(25).Select(s => s.Dts90k), sink.Video.Skip(resumed).Select(u => u.Dts));
        Assert.Equal(audio.Length, sink.Audio.Count);
    }

    [Fact]
    public void GarbageAndUnknownPidsAreSkipped()
    {
        var video = SyntheticStream.VideoSamples(0, 30);
        var audio = SyntheticStream.AudioSamples(0, 55);
        var ts = Mux(video, audio);
        var unknown = new byte[Packet];
        unknown[0] = 0x47;
        unknown[1] = 0x40 | 0x1F;
        unknown[2] = 0xF0;
        unknown[3] = 0x10;
        unknown.AsSpan(4).Fill(0x47);
        byte[] garbage = [0x47, 0x00, 0x12, 0x47, 0x47, 0x99];
        var damaged = new List<byte>();
        for (var i = 0; i < ts.Length / Packet; i++)
        {
            damaged.AddRange(ts.AsSpan(i * Packet, Packet).ToArray());
            if (i % 10 == 3)
            {
                damaged.AddRange(unknown);
            }
        }

        // garbage in front and in the middle (between two packets)
        var middle = 50 * 2 * Packet;
        byte[] bytes = [.. garbage, .. damaged.Take(middle), .. garbage, .. damaged.Skip(middle)];
        var (sink, demuxer) = Demux(bytes, chunk: 333);

        Assert.True(demuxer.SyncLosses >= 1);
        Assert.True(sink.Video.Count >= 5);
        Assert.True(sink.Video[0].IsKeyframe);
        Assert.True(sink.Audio.Count >= 50);
        for (var i = 1; i < sink.Video.Count; i++)
        {
            Assert.True(sink.Video[i].Dts > sink.Video[i - 1].Dts);
        }
    }

    [Fact]
    public void PtsWrapContinuesOnA64BitTimeline()
    {
        // 2^33 ticks is ~26.5 h; start 1 s before the wrap.
        const long Wrap = 1L << 33;
        var start = Wrap - 90_000;
        var video = SyntheticStream.VideoSamples(0, 75, start);
        var audio = SyntheticStream.AudioSamples(0, 140, start);
        var (sink, demuxer) = Demux(Mux(video, audio));

        Assert.Equal(video.Select(v => v.Dts90k), sink.Video.Select(u => u.Dts));
        Assert.Equal(video.Select(v => v.Pts90k), sink.Video.Select(u => u.Pts));
        Assert.Equal(audio.Select(a => a.Pts90k), sink.Audio.Select(a => a.Pts));
        Assert.True(sink.Video[^1].Dts > Wrap);
        Assert.Equal(0, demuxer.TimestampDiscontinuities);
    }

    [Fact]
    public void ATimestampJumpIsRebasedToContinueForward()
    {
        var writer = new TsSegmentWriter(SyntheticStream.Video, SyntheticStream.Audio);
        var output = new ArrayBufferWriter<byte>();
        var counters = new TsContinuityCounters();
        writer.WriteSegment(SyntheticStream.VideoSamples(0, 25), SyntheticStream.AudioSamples(0, 47), counters, output);
        // the source restarts 1000 s earlier
        writer.WriteSegment(SyntheticStream.VideoSamples(0, 25, 900_000 - 90_000_000), SyntheticStream.AudioSamples(0, 47, 900_000 - 90_000_000), counters, output);
        var (sink, demuxer) = Demux(output.WrittenSpan);

        Assert.Equal(1, demuxer.TimestampDiscontinuities);
        Assert.Equal(50, sink.Video.Count);
        for (var i = 1; i < sink.Video.Count; i++)
        {
            Assert.True(sink.Video[i].Dts > sink.Video[i - 1].Dts);
        }

        Assert.InRange(sink.Video[25].Dts - sink.Video[24].Dts, 1, 90_000);

        // Each picture keeps its own reordering after the re-basing (its PTS was unwrapped next to the re-based DTS).
        var offsets = SyntheticStream.VideoSamples(0, 25).Select(v => v.Pts90k - v.Dts90k).ToArray();
        Assert.Equal([.. offsets, .. offsets], sink.Video.Select(v => v.Pts - v.Dts));
    }

    [Fact]
    public void AdtsFramesSplitAcrossPesAnd44100HzTimingDoesNotDrift()
    {
        var asc = AudioSpecificConfig.Parse(Convert.FromHexString("1210")); // AAC-LC 44.1 kHz stereo
        var template = Adts.Prepare(asc);
        var frames = Enumerable.Range(0, 400).Select(i => Enumerable.Repeat((byte)i, 100 + (i % 50)).ToArray()).ToList();
        var adts = new List<byte>();
        foreach (var frame in frames)
        {
            var header = new byte[Adts.HeaderLength];
            Adts.WriteHeader(header, template, frame.Length);
            adts.AddRange(header);
            adts.AddRange(frame);
        }

        // PES of 1000 bytes each, only the first with a PTS, on PID 0x101 of a hand-made PMT.
        const long Start = 123_456;
        var pes = new List<byte[]>();
        var all = adts.ToArray();
        for (var at = 0; at < all.Length; at += 1000)
        {
            pes.Add(MakePes(all.AsSpan(at, Math.Min(1000, all.Length - at)), at == 0 ? Start : null));
        }

        var ts = HandMadeTs.Build(audioPid: 0x101, pes);
        var (sink, _) = Demux(ts, chunk: 4096);

        Assert.Equal(frames.Count, sink.Audio.Count);
        Assert.Equal(asc.Bytes.ToArray(), Assert.Single(sink.AudioConfigs).Config.Bytes.ToArray());
        for (var i = 0; i < frames.Count; i++)
        {
            Assert.Equal(Start + (i * 1024L * 90_000 / 44_100), sink.Audio[i].Pts);
            Assert.Equal(frames[i], sink.Audio[i].Data);
        }
    }

    private static byte[] MakePes(ReadOnlySpan<byte> payload, long? pts)
    {
        var headerData = pts.HasValue ? 5 : 0;
        var pes = new byte[9 + headerData + payload.Length];
        pes[2] = 1;
        pes[3] = 0xC0;
        BinaryPrimitives.WriteUInt16BigEndian(pes.AsSpan(4), (ushort)(pes.Length - 6));
        pes[6] = 0x80;
        pes[7] = pts.HasValue ? (byte)0x80 : (byte)0;
        pes[8] = (byte)headerData;
        if (pts is { } t)
        {
            pes[9] = (byte)(0x21 | (int)((t >> 29) & 0x0E));
            pes[10] = (byte)(t >> 22);
            pes[11] = (byte)(((t >> 14) & 0xFE) | 1);
            pes[12] = (byte)(t >> 7);
            pes[13] = (byte)(((t << 1) & 0xFE) | 1);
        }

        payload.CopyTo(pes.AsSpan(9 + headerData));
        return pes;
    }

    /// <summary>
    /// A picture shown 13 hours after it is decoded (a PTS 2^32 - 1 ticks after its DTS: a review's case) is dropped:
    /// its keyframe's time would have been the next cut for audio, which then piled up without bound until it.
    /// </summary>
    [Fact]
    public void AnAccessUnitShownHoursAfterItIsDecoded_IsDropped()
    {
        var video = SyntheticStream.VideoSamples(0, 50);
        video[30] = video[30] with { Pts90k = video[30].Dts90k + (1L << 32) - 1 };
        var (sink, demuxer) = Demux(Mux(video, SyntheticStream.AudioSamples(0, 90)));

        Assert.Equal(1, demuxer.DroppedVideoUnits);
        Assert.Equal(49, sink.Video.Count);
        Assert.All(sink.Video, v => Assert.InRange(v.Pts - v.Dts, 0, 10 * 90_000));
    }
}
