using System.Buffers.Binary;

namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// Collects the TS payloads of one PID into PES packets: a PES starts at payload_unit_start_indicator and ends when
/// PES_packet_length bytes are in or, for length 0 (unbounded video PES), when the next one starts.
/// Data before the first start, and the rest of a PES hit by a lost packet, are dropped.
/// </summary>
internal sealed class PesAssembler
{
    /// <summary>
    /// The largest PES kept: far above any real access unit or audio PES (an unbounded video PES holds one frame),
    /// so reaching it means a stream that never starts a new PES; what it held is dropped.
    /// </summary>
    public const int MaxPesBytes = 16 * 1024 * 1024;

    private byte[] _buffer = new byte[64 * 1024];
    private int _count;
    private bool _active;

    public int Dropped { get; private set; }

    /// <summary>Bytes of the buffer, which grows to the largest PES seen (at most <see cref="MaxPesBytes"/>) and stays.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>Begins a PES with the payload of a packet whose payload_unit_start_indicator is set.</summary>
    public void Start(ReadOnlySpan<byte> payload)
    {
        _active = true;
        _count = 0;
        Append(payload);
    }

    /// <summary>Adds a continuation payload; ignored while no PES is in progress.</summary>
    public void Continue(ReadOnlySpan<byte> payload)
    {
        if (_active)
        {
            Append(payload);
        }
    }

    /// <summary>Ends the PES in progress at end of input (or for an unbounded one, when nothing more will come).</summary>
    public ReadOnlySpan<byte> Finish() => _active ? Complete() : default;

    /// <summary>Forgets the PES in progress (lost packet, PID change).</summary>
    public void Drop()
    {
        if (_active && _count > 0)
        {
            Dropped++;
        }

        _active = false;
        _count = 0;
    }

    /// <summary>True when a PES with a PES_packet_length has all its bytes; it is then complete.</summary>
    public bool TryCompleteBounded(out ReadOnlySpan<byte> pes)
    {
        pes = default;
        if (!_active || _count < 6)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(_buffer.AsSpan(4));
        if (length == 0 || _count < 6 + length)
        {
            return false;
        }

        _active = false;
        pes = _buffer.AsSpan(0, 6 + length);
        return true;
    }

    private ReadOnlySpan<byte> Complete()
    {
        _active = false;
        if (_count < 6)
        {
            Dropped++;
            return default;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(_buffer.AsSpan(4));
        if (length != 0 && _count < 6 + length)
        {
            Dropped++; // bounded PES cut short
            return default;
        }

        return _buffer.AsSpan(0, length == 0 ? _count : 6 + length);
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        if (_count + data.Length > MaxPesBytes)
        {
            Drop();
            return;
        }

        if (_count + data.Length > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _count + data.Length));
        }

        data.CopyTo(_buffer.AsSpan(_count));
        _count += data.Length;
    }
}
