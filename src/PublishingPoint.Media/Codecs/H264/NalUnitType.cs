namespace PublishingPoint.Media.Codecs.H264;

/// <summary>nal_unit_type values used here (ISO/IEC 14496-10 Table 7-1).</summary>
public static class NalUnitType
{
    public const int NonIdrSlice = 1;
    public const int IdrSlice = 5;
    public const int Sei = 6;
    public const int Sps = 7;
    public const int Pps = 8;
    public const int AccessUnitDelimiter = 9;

    /// <summary>The low five bits of the NAL header byte.</summary>
    public static int Of(byte header) => header & 0x1F;
}
