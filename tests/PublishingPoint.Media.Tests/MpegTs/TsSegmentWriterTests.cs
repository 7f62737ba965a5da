using System.Buffers;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.MpegTs;
using PublishingPoint.Media.Tests.Codecs.H264;
using PublishingPoint.Tests.Shared;

namespace PublishingPoint.Media.Tests.MpegTs;

public class TsSegmentWriterTests
{
    private static readonly TsSample[] Video = SyntheticStream.VideoSamples(0, 50);
    private static readonly TsSample[] Audio = SyntheticStream.AudioSamples(0, 94);

    [Fact]
    public void WritesPatIdenticalToTheCommonFfmpegPat()
    {
        var ts = Write(Video[..1], [], new TsContinuityCounters(), TsMuxerOptions.Default);
        // PAT: tsid 1, program 1 -> PMT PID 0x1000, CRC 2AB104B2.
        var expected = Convert.FromHexString("474000100000B00D0001C100000001F0002AB104B2");
        Assert.Equal(expected, ts[..expected.Length]);
        Assert.All(ts[expected.Length..188], b => Assert.Equal(0xFF, b));
    }

    [Fact]
    public void WritesPmtWithVideoAndAudioStreams()
    {
        var reader = ReadSegment(Video[..3], Audio[..3]);
        Assert.Equal(TsConstants.PmtPid, reader.PmtPid);
        Assert.Equal(TsConstants.VideoPid, reader.PcrPid);
        Assert.Equal(0x1B, reader.StreamTypes[TsConstants.VideoPid]);
        Assert.Equal(0x0F, reader.StreamTypes[TsConstants.AudioPid]);
        Assert.Equal(TsConstants.PmtPid, reader.Packets[1].Pid);
    }

    [Fact]
    public void EncodesPtsBitLayout()
    {
        // PTS 126000 (1.4 s), PTS only: 21 00 07 D8 61.
        TsSample sample = new(126_000, 126_000, true, AnnexBTests.Avcc(4, [0x65, 0x88, 0x80]));
        var ts = Write([sample], [], new TsContinuityCounters(), new TsMuxerOptions { PcrOffset90k = 0 });
        var packet = ts.AsSpan(376, 188);
        Assert.Equal(0x47, packet[0]);
        Assert.Equal(0x41, packet[1]); // PUSI, PID 0x100
        Assert.Equal(0x00, packet[2]);
        Assert.Equal(0x30, packet[3]); // adaptation + payload, CC 0
        var pesStart = 4 + 1 + packet[4];
        Assert.Equal(Convert.FromHexString("000001E0"), packet.Slice(pesStart, 4).ToArray());
        Assert.Equal(Convert.FromHexString("8480052100" + "07D861"), packet.Slice(pesStart + 6, 8).ToArray());
        // Adaptation field: RAI + PCR flags, PCR base 126000 -> 00 00 F6 18 7E 00.
        Assert.Equal(Convert.FromHexString("5000" + "00F6187E00"), packet.Slice(5, 7).ToArray());
    }

    [Fact]
    public void RoundTripsTimestampsAndPayloads()
    {
        var reader = ReadSegment(Video, Audio);
        var video = reader.Pes.Where(p => p.Pid == TsConstants.VideoPid).ToList();
        var audio = reader.Pes.Where(p => p.Pid == TsConstants.AudioPid).ToList();

        Assert.Equal(Video.Length, video.Count);
        for (var i = 0; i < Video.Length; i++)
        {
            Assert.Equal(0xE0, video[i].StreamId);
            Assert.Equal(Video[i].Pts90k, video[i].Pts);
            Assert.Equal(Video[i].Dts90k, video[i].Dts);
            var options = new AnnexBOptions(true, SyntheticStream.Video, Video[i].IsKeyframe);
            var expected = new byte[AnnexB.GetLength(Video[i].Data.Span, 4, options)];
            AnnexB.Write(Video[i].Data.Span, 4, options, expected);
            Assert.Equal(expected, video[i].Payload);
            Assert.Equal(Video[i].IsKeyframe, video[i].FirstPacket.RandomAccess);
            Assert.Equal(Video[i].Dts90k - 9_000, video[i].FirstPacket.PcrBase);
        }

        // 94 frames of 1920 ticks grouped up to 8100 ticks: four frames per PES.
        Assert.Equal(24, audio.Count);
        var frame = 0;
        foreach (var pes in audio)
        {
            Assert.Equal(0xC0, pes.StreamId);
            Assert.Equal(Audio[frame].Pts90k, pes.Pts);
            Assert.Null(pes.Dts);
            var offset = 0;
            while (offset < pes.Payload.Length)
            {
                var length = ((pes.Payload[offset + 3] & 0x3) << 11) | (pes.Payload[offset + 4] << 3) | (pes.Payload[offset + 5] >> 5);
                Assert.Equal(0xFF, pes.Payload[offset]);
                Assert.Equal(Audio[frame].Data.ToArray(), pes.Payload[(offset + 7)..(offset + length)]);
                offset += length;
                frame++;
            }
        }

        Assert.Equal(Audio.Length, frame);
    }

    [Fact]
    public void InterleavesByDtsAndKeepsPcrAtOrBelowDts()
    {
        var reader = ReadSegment(Video, Audio);
        long last = long.MinValue;
        foreach (var pes in reader.Pes)
        {
            var dts = pes.Dts ?? pes.Pts;
            Assert.True(dts >= last, $"PES DTS {dts} after {last}");
            last = dts;
            if (pes.FirstPacket.PcrBase is { } pcr)
            {
                Assert.True(pcr <= dts);
            }
        }
    }

    [Fact]
    public void OutputLengthMatchesTheCountAndLeavesTheRestOfTheBuffer()
    {
        var writer = new TsSegmentWriter(SyntheticStream.Video, SyntheticStream.Audio);
        var counts = writer.CountPackets(Video, Audio);
        var buffer = new byte[counts.ByteLength + 100];
        Array.Fill(buffer, (byte)0xFF);
        var written = writer.WriteSegment(Video, Audio, new TsContinuityCounters(), buffer);

        Assert.Equal(counts, written);
        Assert.All(buffer[counts.ByteLength..], b => Assert.Equal(0xFF, b));
        for (var i = 0; i < counts.ByteLength; i += 188)
        {
            Assert.Equal(0x47, buffer[i]);
        }

        var reader = new TsPacketReader();
        reader.Read(buffer.AsSpan(0, counts.ByteLength));
        Assert.Equal(counts.Video, reader.Packets.Count(p => p.Pid == TsConstants.VideoPid));
        Assert.Equal(counts.Audio, reader.Packets.Count(p => p.Pid == TsConstants.AudioPid));
    }

    [Fact]
    public void SequentialCountersContinueAcrossSegments()
    {
        var counters = new TsContinuityCounters();
        var first = Write(Video[..25], Audio[..47], counters, TsMuxerOptions.Default);
        var afterFirst = counters.Copy();
        var second = Write(Video[25..], Audio[47..], counters, TsMuxerOptions.Default);

        var reader = new TsPacketReader();
        reader.Read(first);
        reader.Read(second); // throws on any CC gap

        var writer = new TsSegmentWriter(SyntheticStream.Video, SyntheticStream.Audio);
        var counted = new TsContinuityCounters();
        counted.Advance(writer.CountPackets(Video.AsSpan(0, 25), Audio.AsSpan(0, 47)));
        Assert.Equal(afterFirst, counted);
        counted.Advance(writer.CountPackets(Video.AsSpan(25), Audio.AsSpan(47)));
        Assert.Equal(counters, counted);
    }

    [Fact]
    public void AlignedSegmentsWrittenIndependentlyAreContinuous()
    {
        var options = new TsMuxerOptions { AlignContinuityCounters = true };
        var reader = new TsPacketReader();
        for (var n = 0; n < 3; n++)
        {
            var video = SyntheticStream.VideoSamples(n * 25, 25);
            var audio = SyntheticStream.AudioSamples(n * 47, 47);
            var counters = TsContinuityCounters.ForAlignedSegment(n);
            var ts = Write(video, audio, counters, options);

            Assert.Equal(TsContinuityCounters.ForAlignedSegment(n + 1), counters);
            reader.Read(ts);
        }

        Assert.Equal(0, reader.Packets.Count(p => p.Pid == TsConstants.VideoPid) % 16);
        Assert.Equal(0, reader.Packets.Count(p => p.Pid == TsConstants.AudioPid) % 16);
        Assert.Equal(75, reader.Pes.Count(p => p.Pid == TsConstants.VideoPid));
    }

    [Fact]
    public void PcrIsHeldAtZeroNearTheTimelineOrigin()
    {
        var video = SyntheticStream.VideoSamples(0, 3, baseTime: 0);
        var reader = new TsPacketReader();
        reader.Read(Write(video, [], new TsContinuityCounters(), TsMuxerOptions.Default));
        Assert.Equal([0L, 0L, 0L], reader.Pes.Select(p => p.FirstPacket.PcrBase!.Value));
    }

    [Fact]
    public void WritesToABufferWriterInOnePiece()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new TsSegmentWriter(SyntheticStream.Video, SyntheticStream.Audio);
        var counts = writer.WriteSegment(Video, Audio, new TsContinuityCounters(), output);
        Assert.Equal(counts.ByteLength, output.WrittenCount);
        Assert.Equal(0, output.WrittenCount % 188);
    }

    [Fact]
    public void RejectsAudioWithoutAudioConfiguration()
    {
        var writer = new TsSegmentWriter(SyntheticStream.Video, null);
        Assert.Throws<ArgumentException>(() => writer.CountPackets(Video, Audio));
    }

    private static byte[] Write(TsSample[] video, TsSample[] audio, TsContinuityCounters counters, TsMuxerOptions options)
    {
        var writer = new TsSegmentWriter(SyntheticStream.Video, SyntheticStream.Audio, options);
        var output = new ArrayBufferWriter<byte>();
        writer.WriteSegment(video, audio, counters, output);
        return output.WrittenSpan.ToArray();
    }

    private static TsPacketReader ReadSegment(TsSample[] video, TsSample[] audio)
    {
        var reader = new TsPacketReader();
        reader.Read(Write(video, audio, new TsContinuityCounters(), TsMuxerOptions.Default));
        return reader;
    }

    [Theory]
    [InlineData(0)] // audio and video start together: the keyframe's PES comes first
    [InlineData(3)] // audio starts three frames earlier: those audio PES come before the keyframe
    public void KeyframeEndIsWhereTheFirstVideoPesEnds(int audioLead)
    {
        var writer = new TsSegmentWriter(SyntheticStream.Video, SyntheticStream.Audio, new TsMuxerOptions { AlignContinuityCounters = true });
        var audio = SyntheticStream.AudioSamples(0, 94, 900_000 - (audioLead * 1920));
        var segment = writer.WriteSegment(Video, audio, new TsContinuityCounters());

        var end = writer.KeyframeEnd(Video, audio);

        Assert.Equal(0, end % 188);
        var videoStarts = new List<int>();
        for (var at = 0; at < segment.Length; at += 188)
        {
            var pid = ((segment[at + 1] & 0x1F) << 8) | segment[at + 2];
            if (pid == TsConstants.VideoPid && (segment[at + 1] & 0x40) != 0)
            {
                videoStarts.Add(at);
            }
        }

        // The range holds the first video PES whole and ends where the second one starts (or audio takes over).
        Assert.True(videoStarts.Count > 1);
        Assert.True(end > videoStarts[0] && end <= videoStarts[1]);
        var next = ((segment[end + 1] & 0x1F) << 8) | segment[end + 2];
        Assert.True(next != TsConstants.VideoPid || (segment[end + 1] & 0x40) != 0, "the range cuts the keyframe's PES");
    }
}
