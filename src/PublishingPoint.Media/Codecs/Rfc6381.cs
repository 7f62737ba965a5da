using System.Globalization;
using PublishingPoint.Media.Codecs.Aac;

namespace PublishingPoint.Media.Codecs;

/// <summary>RFC 6381 "codecs" parameter values, as used in HLS CODECS and DASH @codecs.</summary>
public static class Rfc6381
{
    /// <summary>
    /// "avc1.PPCCLL": profile_idc, the constraint-flags byte and level_idc of the SPS, in hex
    /// (ISO/IEC 14496-15 E.2). High 4:4:4 Predictive (profile_idc 244) is "avc1.f4....".
    /// </summary>
    public static string ForAvc(byte profileIdc, byte constraintFlags, byte levelIdc) =>
        string.Create(CultureInfo.InvariantCulture, $"avc1.{profileIdc:x2}{constraintFlags:x2}{levelIdc:x2}");

    /// <summary>"mp4a.40.N" with N the MPEG-4 audio object type (ISO/IEC 14496-3 1.5.1.1, RFC 6381 3.3).</summary>
    public static string ForAac(AudioSpecificConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return string.Create(CultureInfo.InvariantCulture, $"mp4a.40.{config.ObjectType}");
    }
}
