namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// The next continuity_counter (4 bits, ISO/IEC 13818-1 2.4.3.3) of each PID. It counts packets that carry
/// payload, so after a segment each counter has moved by that PID's packet count modulo 16.
/// <para>
/// Three ways to get the state for segment N of a rendition:
/// <list type="bullet">
/// <item>Sequential: pass one instance to every <see cref="TsSegmentWriter.WriteSegment(ReadOnlySpan{TsSample}, ReadOnlySpan{TsSample}, TsContinuityCounters, System.Buffers.IBufferWriter{byte}, ReadOnlySpan{TsSample})"/> call; it is advanced in place.</item>
/// <item>Counted: start from <see cref="TsContinuityCounters()"/> and <see cref="Advance"/> by
/// <see cref="TsSegmentWriter.CountPackets"/> of segments 0..N-1 (sizes only, nothing is written).</item>
/// <item>Aligned (no dependency on other segments): with <see cref="TsMuxerOptions.AlignContinuityCounters"/> every segment
/// spends a multiple of 16 packets on each elementary-stream PID and exactly one PAT and one PMT packet, so
/// <see cref="ForAlignedSegment"/>(N) is the state segment N starts with and segment N-1 ended with.</item>
/// </list>
/// </para>
/// </summary>
public sealed record class TsContinuityCounters
{
    public TsContinuityCounters()
    {
    }

    public TsContinuityCounters(int pat, int pmt, int video, int audio, int metadata = 0)
    {
        Pat = pat & 0xF;
        Pmt = pmt & 0xF;
        Video = video & 0xF;
        Audio = audio & 0xF;
        Metadata = metadata & 0xF;
    }

    public int Pat { get; set; }
    public int Pmt { get; set; }
    public int Video { get; set; }
    public int Audio { get; set; }
    public int Metadata { get; set; }

    /// <summary>State at the start of segment <paramref name="sequenceNumber"/> when segments are written aligned.</summary>
    public static TsContinuityCounters ForAlignedSegment(long sequenceNumber)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sequenceNumber);
        var psi = (int)(sequenceNumber & 0xF);
        return new TsContinuityCounters(psi, psi, 0, 0);
    }

    /// <summary>Moves every counter past the packets of one segment.</summary>
    public void Advance(TsPacketCounts counts)
    {
        Pat = (Pat + counts.Pat) & 0xF;
        Pmt = (Pmt + counts.Pmt) & 0xF;
        Video = (Video + counts.Video) & 0xF;
        Audio = (Audio + counts.Audio) & 0xF;
        Metadata = (Metadata + counts.Metadata) & 0xF;
    }

    public TsContinuityCounters Copy() => new(Pat, Pmt, Video, Audio, Metadata);
}

/// <summary>Packets per PID in one segment; every packet is <see cref="TsConstants.PacketLength"/> bytes.</summary>
public readonly record struct TsPacketCounts(int Pat, int Pmt, int Video, int Audio, int Metadata = 0)
{
    public int Total => Pat + Pmt + Video + Audio + Metadata;

    public int ByteLength => Total * TsConstants.PacketLength;
}
