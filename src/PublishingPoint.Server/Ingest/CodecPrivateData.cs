using System.Buffers.Binary;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// Smooth CodecPrivateData when the encoder sent no SMIL: for H.264 the SPS and PPS in Annex B
/// (00 00 00 01 before each) taken from avcC; for AAC the AudioSpecificConfig as is.
/// </summary>
internal static class CodecPrivateData
{
    public static string FromDecoderConfig(TrackInfo info)
    {
        var config = info.DecoderConfig;
        if (info.Kind != TrackKind.Video)
        {
            return Convert.ToHexString(config);
        }

        // avcC: version, profile, compat, level, lengthSizeMinusOne, numSPS(5 bits) {len16, sps}, numPPS {len16, pps}
        if (config.Length < 7)
        {
            return string.Empty;
        }

        var output = new List<byte>(config.Length + 8);
        var at = 5;
        for (var set = 0; set < 2; set++)
        {
            if (at >= config.Length)
            {
                break;
            }

            var count = set == 0 ? config[at] & 0x1F : config[at];
            at++;
            for (var i = 0; i < count && at + 2 <= config.Length; i++)
            {
                var length = BinaryPrimitives.ReadUInt16BigEndian(config.AsSpan(at));
                at += 2;
                if (at + length > config.Length)
                {
                    break;
                }

                output.AddRange([0, 0, 0, 1]);
                output.AddRange(config.AsSpan(at, length));
                at += length;
            }
        }

        return Convert.ToHexString(output.ToArray());
    }
}
