namespace PublishingPoint.Media.MpegTs;

/// <summary>One PES of a segment as laid out before writing: which samples, how long, how many packets.</summary>
internal struct PesPlan
{
    public int FirstSample;
    public int SampleCount;
    public long Dts;
    public long Pts;
    public bool IsKeyframe;
    public bool WithDts;

    /// <summary>Elementary stream bytes (Annex B access unit, or ADTS frames).</summary>
    public int PayloadLength;

    /// <summary>Adaptation field bytes the first packet needs for PCR / random_access_indicator.</summary>
    public int FirstAdaptationLength;

    public int Packets;

    public readonly int HeaderLength => PesHeader.GetLength(WithDts);
    public readonly int TotalLength => HeaderLength + PayloadLength;

    /// <summary>Fewest packets: the first holds 184 minus its adaptation field, the others 184.</summary>
    public readonly int MinPackets
    {
        get
        {
            var firstCapacity = TsConstants.MaxPayload - FirstAdaptationLength;
            var rest = TotalLength - firstCapacity;
            return rest <= 0 ? 1 : 1 + ((rest + TsConstants.MaxPayload - 1) / TsConstants.MaxPayload);
        }
    }

    /// <summary>Most packets: one payload byte each, but the first keeps the whole PES header.</summary>
    public readonly int MaxPackets => 1 + PayloadLength;
}
