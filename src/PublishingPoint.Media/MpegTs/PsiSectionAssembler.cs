using System.Buffers.Binary;

namespace PublishingPoint.Media.MpegTs;

internal delegate void PsiSectionHandler(ReadOnlySpan<byte> section);

/// <summary>
/// Reassembles PSI sections (ISO/IEC 13818-1 2.4.4): pointer_field at a payload_unit_start, table_id,
/// section_length(12), body, CRC_32. Sections may span packets; several may share one; 0xFF is stuffing.
/// Sections whose CRC does not match are dropped.
/// </summary>
internal sealed class PsiSectionAssembler
{
    private const int MaxSectionLength = 3 + 1021;
    private readonly byte[] _buffer = new byte[MaxSectionLength + 188];
    private int _count;
    private bool _active;

    public int CrcErrors { get; private set; }

    public void Push(ReadOnlySpan<byte> payload, bool unitStart, bool lostBefore, PsiSectionHandler handler)
    {
        if (lostBefore)
        {
            Reset();
        }

        if (unitStart)
        {
            if (payload.IsEmpty)
            {
                return;
            }

            var pointer = payload[0];
            if (1 + pointer > payload.Length)
            {
                Reset();
                return;
            }

            if (_active)
            {
                Append(payload.Slice(1, pointer), handler);
            }

            Reset();
            _active = true;
            Append(payload[(1 + pointer)..], handler);
        }
        else if (_active)
        {
            Append(payload, handler);
        }
    }

    public void Reset()
    {
        _active = false;
        _count = 0;
    }

    private void Append(ReadOnlySpan<byte> data, PsiSectionHandler handler)
    {
        var room = Math.Min(data.Length, _buffer.Length - _count);
        data[..room].CopyTo(_buffer.AsSpan(_count));
        _count += room;

        var start = 0;
        while (_active)
        {
            var rest = _buffer.AsSpan(start, _count - start);
            if (rest.IsEmpty || rest[0] == 0xFF)
            {
                Reset(); // stuffing after the last section
                return;
            }

            if (rest.Length < 3)
            {
                break;
            }

            var length = 3 + (BinaryPrimitives.ReadUInt16BigEndian(rest[1..]) & 0x0FFF);
            if (length > MaxSectionLength || length < 3 + 5 + 4)
            {
                Reset();
                return;
            }

            if (rest.Length < length)
            {
                break;
            }

            var section = rest[..length];
            if (Crc32Mpeg2.Compute(section[..^4]) == BinaryPrimitives.ReadUInt32BigEndian(section[^4..]))
            {
                handler(section);
            }
            else
            {
                CrcErrors++;
            }

            start += length;
        }

        if (start > 0 && _active)
        {
            _buffer.AsSpan(start, _count - start).CopyTo(_buffer);
            _count -= start;
        }
    }
}
