using PublishingPoint.Server.Points;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// A produced segment to answer with: its bytes, or, when it was large enough to be spooled, its file copy, each held
/// (a reference on the bytes, whose array may go back to its pool; a lease on the file, which stays open) however the
/// cache changes until <see cref="Release"/>.
/// </summary>
internal readonly record struct ReadySegment(FragmentBuffer? Buffer, SpooledFile? File)
{
    public long Length => Buffer?.Length ?? File!.Length;

    public void Release()
    {
        File?.Release();
        Buffer?.Release();
    }

    /// <summary>The bytes in an array of their own (a copy of pooled ones), read back from the file copy when that is all there is.</summary>
    public byte[] ToArray()
    {
        if (Buffer is { } buffer)
        {
            return buffer.ToExactArray();
        }

        var copy = GC.AllocateUninitializedArray<byte>(checked((int)File!.Length));
        RandomAccess.Read(File.Handle, copy, 0);
        return copy;
    }
}
