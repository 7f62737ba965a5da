using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Tracks;

/// <summary>
/// Smooth CodecPrivateData when the encoder sent no SMIL: for H.264 the SPS and PPS in Annex B
/// (00 00 00 01 before each) taken from avcC; for AAC the AudioSpecificConfig as is.
/// </summary>
public static class CodecPrivateData
{
    public static string FromDecoderConfig(TrackInfo info)
    {
        if (info.Kind != TrackKind.Video)
        {
            return Convert.ToHexString(info.DecoderConfig);
        }

        AvcDecoderConfiguration avc;
        try
        {
            avc = AvcDecoderConfiguration.Parse(info.DecoderConfig);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or ArgumentException or IndexOutOfRangeException)
        {
            throw new TrackRejectedException(TrackRejection.Unsupported, $"track {info.TrackId}: unreadable avcC ({e.Message})");
        }

        var hex = new System.Text.StringBuilder();
        foreach (var set in avc.SequenceParameterSets.Concat(avc.PictureParameterSets))
        {
            hex.Append("00000001").Append(Convert.ToHexString(set.Span));
        }

        return hex.ToString();
    }
}
