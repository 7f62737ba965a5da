using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// ISO/IEC 14496-1 §7.2.6 descriptors inside 'esds': ES_Descriptor (tag 3) holds a
/// DecoderConfigDescriptor (tag 4: objectType, streamType, bufferSize, maxBitrate, avgBitrate),
/// which holds the DecoderSpecificInfo (tag 5: the AudioSpecificConfig).
/// </summary>
internal static class EsDescriptorReader
{
    private const byte EsDescriptorTag = 3;
    private const byte DecoderConfigTag = 4;
    private const byte DecoderSpecificInfoTag = 5;

    // ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo: deeper nesting is not AAC's, and an encoder's 4 MB
    // 'moov' could nest ES_Descriptors 800,000 deep (an uncatchable stack overflow, were each level a call).
    private const int MaxDepth = 3;

    public static TrackInfo Apply(TrackInfo track, ReadOnlySpan<byte> descriptors, int depth = 1)
    {
        while (depth <= MaxDepth && TryReadDescriptor(ref descriptors, out var tag, out var body))
        {
            switch (tag)
            {
                case EsDescriptorTag when body.Length >= 3:
                    var flags = body[2];
                    var skip = 3 + ((flags & 0x80) != 0 ? 2 : 0);
                    if ((flags & 0x40) != 0 && body.Length > skip)
                    {
                        skip += 1 + body[skip];
                    }

                    skip += (flags & 0x20) != 0 ? 2 : 0;
                    return skip <= body.Length ? Apply(track, body[skip..], depth + 1) : track;
                case DecoderConfigTag when body.Length >= 13:
                    track = track with { AverageBitrate = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(body[9..]), int.MaxValue) };
                    return Apply(track, body[13..], depth + 1);
                case DecoderSpecificInfoTag:
                    return track with { DecoderConfig = body.ToArray() };
                default:
                    break;
            }
        }

        return track;
    }

    private static bool TryReadDescriptor(ref ReadOnlySpan<byte> source, out byte tag, out ReadOnlySpan<byte> body)
    {
        tag = 0;
        body = default;
        if (source.Length < 2)
        {
            return false;
        }

        tag = source[0];
        var length = 0;
        var at = 1;
        for (var i = 0; i < 4 && at < source.Length; i++)
        {
            var b = source[at++];
            length = (length << 7) | (b & 0x7F);
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        if (length > source.Length - at)
        {
            return false;
        }

        body = source.Slice(at, length);
        source = source[(at + length)..];
        return true;
    }
}
